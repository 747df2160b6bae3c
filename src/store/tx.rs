//! A write transaction: its connection, and the ledger events its writes have
//! appended, which are inserted together just before it commits.
//!
//! Why together and late: the ledger's numbers must become visible in order (a reader
//! that has seen event N has seen every event below it), so whoever takes numbers holds
//! the ledger's head row until it commits. On SQLite, where a write transaction holds
//! the whole database anyway, the transaction numbers its own events when it inserts
//! them. On PostgreSQL it inserts them under provisional numbers and never takes the
//! head row: they are numbered right after its commit (`events::number`), so that the
//! write transactions of several processes run side by side to the end. What they may
//! then do side by side, the address and contact locks (`store::locks`) keep apart
//! where their writes concern the same person.

use std::collections::HashSet;
use std::ops::{Deref, DerefMut};

use diesel::Connection;

use super::events::{self, EventRow};
use super::Db;
use crate::error::Error;

pub struct Tx<'c> {
    db: &'c mut Db,
    /// Appended by this transaction's writes, not yet numbered.
    pending: Vec<EventRow>,
    /// Numbered and inserted, kept until the end: should a savepoint roll back a flush,
    /// what it had inserted for the writes before the savepoint is pending again.
    inserted: Vec<EventRow>,
    /// The address locks it holds (`store::locks`), in the order taken, so that a
    /// write takes each once however many of its steps ask for it.
    held: Vec<Vec<u8>>,
    holding: HashSet<Vec<u8>>,
    /// The console operator this transaction writes for, if any (see [`Tx::act_for`]).
    operator: Option<String>,
}

impl<'c> Tx<'c> {
    pub(super) fn new(db: &'c mut Db) -> Self {
        Self {
            db,
            pending: Vec::new(),
            inserted: Vec::new(),
            held: Vec::new(),
            holding: HashSet::new(),
            operator: None,
        }
    }

    /// Runs `work` recording every event it appends as a console operator's: source
    /// `console`, and the operator's address. Wrapped around a console request's write
    /// where it begins (`service::write`), so that every use case records its operator
    /// without each taking one more argument; the writes a group commit runs beside it
    /// in the same transaction are not affected.
    pub fn as_operator<T>(&mut self, operator: String, work: impl FnOnce(&mut Tx) -> T) -> T {
        let before = self.operator.replace(operator);
        let out = work(self);
        self.operator = before;
        out
    }

    /// The console operator this transaction writes for, if any.
    pub fn operator(&self) -> Option<&str> {
        self.operator.as_deref()
    }

    /// Appends an event to the ledger; it gets its number when the transaction
    /// [flushes](Self::flush).
    pub fn append(&mut self, mut event: EventRow) {
        if let Some(operator) = &self.operator {
            event.source = crate::domain::Source::Console.as_str().to_owned();
            event.operator = Some(operator.clone());
        }
        self.pending.push(event);
    }

    /// Numbers the events appended so far (on SQLite; provisionally on PostgreSQL, see
    /// the module's comment) and inserts them, so that what follows can read or change
    /// them: done before the commit, and by anything in the transaction that reads or
    /// changes stored events.
    pub fn flush(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let count = self.pending.len() as i64;
        let numbers = match self.db {
            Db::Pg(_) => events::provisional(self.db, count)?,
            Db::Sqlite(_) => {
                let first = events::reserve(self.db, count)?;
                (first..first + count).collect()
            }
        };
        for (seq, event) in numbers.into_iter().zip(self.pending.iter_mut()) {
            event.seq = seq;
        }
        events::insert_many(self.db, &self.pending)?;
        self.inserted.append(&mut self.pending);
        Ok(())
    }

    /// Takes the address lock of each of `hashes` not held yet (see `store::locks`).
    pub fn lock_addresses<H: AsRef<[u8]>>(&mut self, hashes: &[H]) -> Result<(), Error> {
        let new: Vec<&[u8]> =
            hashes.iter().map(AsRef::as_ref).filter(|h| !self.holding.contains(*h)).collect();
        if new.is_empty() {
            return Ok(());
        }
        super::locks::addresses(self.db, &new)?;
        for hash in new {
            if self.holding.insert(hash.to_vec()) {
                self.held.push(hash.to_vec());
            }
        }
        Ok(())
    }

    /// The events the transaction has inserted, in order, taken out of it: on SQLite,
    /// numbered, for the decision index, which need not read them back.
    pub(super) fn take_inserted(&mut self) -> Vec<EventRow> {
        std::mem::take(&mut self.inserted)
    }

    /// Runs `work` in a savepoint: when it fails, its changes — and the events it
    /// appended — are rolled back, and the transaction goes on without them.
    pub fn savepoint<T, F>(&mut self, work: F) -> Result<T, Error>
    where
        F: FnOnce(&mut Tx) -> Result<T, Error>,
    {
        let marks = (self.pending.len(), self.inserted.len(), self.held.len());
        let Tx { db, pending, inserted, held, holding, operator, .. } = self;
        let result = db.transaction(|db| {
            let mut inner = Tx {
                db,
                pending: std::mem::take(pending),
                inserted: std::mem::take(inserted),
                held: std::mem::take(held),
                holding: std::mem::take(holding),
                operator: operator.clone(),
            };
            let out = work(&mut inner);
            (*pending, *inserted, *held, *holding) =
                (inner.pending, inner.inserted, inner.held, inner.holding);
            out
        });
        if result.is_err() {
            let (pending, inserted, held) = marks;
            // The rollback took back whatever the work flushed: the events that were
            // pending before it are pending again (their numbers were rolled back too),
            // and its own are gone. So are the locks it took.
            let mut again = self.inserted.split_off(inserted);
            again.append(&mut self.pending);
            again.truncate(pending);
            self.pending = again;
            for hash in self.held.split_off(held) {
                self.holding.remove(&hash);
            }
        }
        result
    }
}

impl Deref for Tx<'_> {
    type Target = Db;

    fn deref(&self) -> &Db {
        self.db
    }
}

impl DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Db {
        self.db
    }
}
