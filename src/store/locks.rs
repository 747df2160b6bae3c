//! What keeps concurrent write transactions apart where their writes concern the same
//! person. A write reads what is held (a contact's statuses, an address's suppression,
//! its soft bounces), decides under the consent rules, and writes: two such writes for
//! the same person must not both read the state before the other's change, or an
//! acknowledged unsubscribe could be overwritten by a write that never saw it.
//!
//! On PostgreSQL transactions of several processes (and nothing else, since each
//! process writes through one writer thread) run side by side to their commits (their
//! events are numbered after, see `events::number`); there, a write takes
//! - the **address lock** (a transaction-level advisory lock on the keyed address
//!   hash) before it reads or writes what is held for an address that may have no
//!   contact: its suppression, its soft bounces, a contact it may create;
//! - the **contact lock** (the contact's row, `FOR UPDATE`) before it reads a contact
//!   it will change.
//!
//! Changes of topics take one lock of their own ([`topics`]). All are held until the
//! transaction ends, and a write takes its provisional event numbers after them: so
//! two writes for the same person are numbered in the order they committed. A write that takes both takes the address
//! lock first, so two writes never wait for each other in opposite orders over one
//! person. On SQLite a write transaction holds the whole database from its first
//! statement: there is nothing to keep apart, and these only read.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt};

use super::contacts::ContactRow;
use super::schema::contacts;
use super::Db;
use crate::domain::ContactId;

/// The advisory lock's key for an address: the first eight bytes of its keyed hash,
/// uniform already. Two addresses sharing a key only wait for each other.
fn key(hash: &[u8]) -> i64 {
    let mut bytes = [0u8; 8];
    for (to, from) in bytes.iter_mut().zip(hash) {
        *to = *from;
    }
    i64::from_le_bytes(bytes)
}

/// Takes the address lock of each of `hashes` (in one statement, in a fixed order, so
/// that two transactions locking overlapping sets never wait for each other in
/// opposite orders).
pub fn addresses<H: AsRef<[u8]>>(db: &mut Db, hashes: &[H]) -> QueryResult<()> {
    let Db::Pg(conn) = db else { return Ok(()) };
    let mut keys: Vec<i64> = hashes.iter().map(|h| key(h.as_ref())).collect();
    keys.sort_unstable();
    keys.dedup();
    match keys.as_slice() {
        [] => Ok(()),
        [one] => diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(one)
            .execute(conn)
            .map(drop),
        _ => diesel::sql_query(
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT k FROM unnest($1) AS k ORDER BY k) AS keys",
        )
        .bind::<Array<BigInt>, _>(&keys)
        .execute(conn)
        .map(drop),
    }
}

/// The lock every change of topics takes: they are few and rare, and a key's
/// existence, the next position and whether statuses use a topic are read, then written.
pub fn topics(db: &mut Db) -> QueryResult<()> {
    const TOPICS: i64 = 0x7072_6566_746f_7063; // "preftopc"
    let Db::Pg(conn) = db else { return Ok(()) };
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)").bind::<BigInt, _>(TOPICS).execute(conn).map(drop)
}

/// The contact with this id, its row locked until the transaction ends.
pub fn contact_by_id(db: &mut Db, id: &ContactId) -> QueryResult<Option<ContactRow>> {
    match db {
        Db::Pg(conn) => {
            contacts::table.find(id).select(ContactRow::as_select()).for_update().first(conn).optional()
        }
        Db::Sqlite(_) => super::contacts::by_id(db, id),
    }
}

/// The contact with this address hash, its row locked until the transaction ends.
pub fn contact_by_hash(db: &mut Db, hash: &[u8]) -> QueryResult<Option<ContactRow>> {
    match db {
        Db::Pg(conn) => contacts::table
            .filter(contacts::address_hash.eq(hash))
            .select(ContactRow::as_select())
            .for_update()
            .first(conn)
            .optional(),
        Db::Sqlite(_) => super::contacts::by_hash(db, hash),
    }
}

/// The contacts with these ids or address hashes, their rows locked until the
/// transaction ends (taken in the order of their ids, one statement for each list).
pub fn contacts(db: &mut Db, ids: &[ContactId], hashes: &[&[u8]]) -> QueryResult<Vec<ContactRow>> {
    let mut rows = Vec::new();
    match db {
        Db::Pg(conn) => {
            if !ids.is_empty() {
                rows = contacts::table
                    .filter(contacts::id.eq_any(ids))
                    .order(contacts::id)
                    .select(ContactRow::as_select())
                    .for_update()
                    .load(conn)?;
            }
            if !hashes.is_empty() {
                rows.extend(
                    contacts::table
                        .filter(contacts::address_hash.eq_any(hashes))
                        .order(contacts::id)
                        .select(ContactRow::as_select())
                        .for_update()
                        .load(conn)?,
                );
            }
        }
        Db::Sqlite(_) => {
            if !ids.is_empty() {
                rows = contacts::table
                    .filter(contacts::id.eq_any(ids))
                    .select(ContactRow::as_select())
                    .load(db)?;
            }
            if !hashes.is_empty() {
                rows.extend(
                    contacts::table
                        .filter(contacts::address_hash.eq_any(hashes))
                        .select(ContactRow::as_select())
                        .load(db)?,
                );
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::key;

    #[test]
    fn an_address_key_is_its_hash_s_first_eight_bytes() {
        assert_eq!(key(&[1, 0, 0, 0, 0, 0, 0, 0, 9, 9]), 1);
        assert_eq!(key(&[0xff; 32]), -1);
        assert_eq!(key(&[2]), 2, "a short hash is padded, never a panic");
    }
}
