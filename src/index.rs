//! The in-memory decision index: what `decide()` needs for every address, kept by each
//! process so that check routes never touch the database.
//!
//! It is loaded at start-up and then kept current by reading the event ledger after
//! the last sequence number it applied — tailed, not invalidated, because the ledger
//! is the one ordered record of every change made by every process. A write made
//! through this process is applied before its answer is sent (`apply_committed`, after
//! its commit and, on PostgreSQL, its numbering); writes of other processes arrive
//! within one poll (250 ms, sooner on PostgreSQL where a `NOTIFY` wakes the tailer). A process that cannot read the ledger for longer than
//! the stale bound refuses to decide (503) rather than answer from old state.
//!
//! Layout, for memory: an address is keyed by the first 16 bytes of its keyed hash;
//! its entry holds a flag byte and up to two explicit statuses inline (topic ids are
//! process-local numbers), 24 bytes a slot. More statuses — and any status on a topic
//! whose number does not fit a slot's 14 bits — suppressions and recipients' pauses,
//! all rare, live in side tables; a flag bit says whether to look there, so an address
//! without one costs no lookup.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use crate::domain::decision::{decide, AddressState, Decision, Suppression, TopicRules};
use crate::domain::{AddressHash, Category, EventType, Status};
use crate::error::Error;
use crate::store::events::EventRow;
use crate::store::topics::Catalog;
use crate::store::{self, DatabaseUrl, Db, Pool, Recorded};

/// The first 16 bytes of a keyed address hash: uniform, so its first half is the
/// hash-map hash as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key(u64, u64);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
    }
}

impl Key {
    fn of(hash: &[u8]) -> Option<Key> {
        let first: [u8; 8] = hash.get(..8)?.try_into().ok()?;
        let second: [u8; 8] = hash.get(8..16)?.try_into().ok()?;
        Some(Key(u64::from_le_bytes(first), u64::from_le_bytes(second)))
    }
}

/// Passes the key's own bits through: they are already a keyed hash.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Map<V> = HashMap<Key, V, BuildHasherDefault<PassThrough>>;

const UNSUBSCRIBED_ALL: u8 = 1;
const SUPPRESSED: u8 = 2;
const OVERFLOW: u8 = 4;
const PAUSED: u8 = 8;

/// One address: flags and up to two `topic_id << 2 | status` slots (0 is empty) for
/// topics numbered below [`INLINE_TOPICS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Entry {
    flags: u8,
    slots: [u16; 2],
}

fn status_code(status: Status) -> u32 {
    match status {
        Status::Subscribed => 1,
        Status::Unsubscribed => 2,
        Status::Pending => 3,
    }
}

fn status_of(code: u32) -> Option<Status> {
    match code & 3 {
        1 => Some(Status::Subscribed),
        2 => Some(Status::Unsubscribed),
        3 => Some(Status::Pending),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy)]
struct TopicEntry {
    id: u32,
    rules: TopicRules,
}

/// Topics numbered below this fit a slot's 14 bits; statuses on the others (a
/// deployment with more than 16,383 topic keys) live in the overflow table, whose
/// codes have 30 bits for the number. Numbers are never shared: two topics that
/// collided would read each other's statuses.
const INLINE_TOPICS: u32 = 1 << 14;

#[derive(Default)]
struct Data {
    topics: HashMap<String, TopicEntry>,
    topic_ids: HashMap<String, u32>,
    entries: Map<Entry>,
    overflow: Map<Vec<u32>>,
    suppressions: Map<Suppression>,
    /// Until when each paused address's promotional mail is held back. An entry whose
    /// time has passed decides nothing (`decide` compares it with now), and goes with
    /// the next pause event or load.
    paused: Map<NaiveDateTime>,
    /// The topics with their names and translations, as of the last event applied:
    /// the preference page, read far more often than topics change, reads them here.
    catalog: Arc<Catalog>,
}

impl Data {
    fn topic_id(&mut self, key: &str) -> u32 {
        if let Some(id) = self.topic_ids.get(key) {
            return *id;
        }
        // 2^30 topic keys would take tens of gigabytes of names first.
        let id = u32::try_from(self.topic_ids.len() + 1).expect("fewer than 2^30 topics");
        self.topic_ids.insert(key.to_owned(), id);
        id
    }

    fn set_topics(&mut self, catalog: Catalog) {
        self.topics.clear();
        for row in &catalog.topics {
            let id = self.topic_id(&row.key);
            let rules = TopicRules { category: row.category, default_subscribed: row.default_subscribed };
            self.topics.insert(row.key.clone(), TopicEntry { id, rules });
        }
        self.catalog = Arc::new(catalog);
    }

    fn set_status(&mut self, key: Key, topic: &str, status: Option<Status>) {
        let id = self.topic_id(topic);
        let inline = id < INLINE_TOPICS;
        let entry = self.entries.entry(key).or_default();
        let code = status.map(|s| id << 2 | status_code(s));
        // Replace the topic's slot, or take a free one, or spill over.
        let mut placed = false;
        for slot in entry.slots.iter_mut() {
            if *slot != 0 && u32::from(*slot) >> 2 == id {
                *slot = code.map_or(0, |c| c as u16);
                placed = true;
            }
        }
        if entry.flags & OVERFLOW != 0 {
            let extra = self.overflow.entry(key).or_default();
            if placed {
                extra.retain(|s| s >> 2 != id);
            } else if let Some(s) = extra.iter_mut().find(|s| **s >> 2 == id) {
                *s = code.unwrap_or(0);
                extra.retain(|s| *s != 0);
                placed = true;
            }
            if extra.is_empty() {
                self.overflow.remove(&key);
                entry.flags &= !OVERFLOW;
            }
        }
        if !placed {
            if let Some(code) = code {
                match entry.slots.iter_mut().find(|s| **s == 0) {
                    // Below INLINE_TOPICS the code fits 16 bits.
                    Some(free) if inline => *free = code as u16,
                    _ => {
                        self.overflow.entry(key).or_default().push(code);
                        entry.flags |= OVERFLOW;
                    }
                }
            }
        }
        self.tidy(key);
    }

    fn set_flag(&mut self, key: Key, flag: u8, on: bool) {
        let entry = self.entries.entry(key).or_default();
        if on {
            entry.flags |= flag;
        } else {
            entry.flags &= !flag;
        }
        self.tidy(key);
    }

    fn set_suppression(&mut self, key: Key, suppression: Option<Suppression>) {
        match suppression {
            Some(s) => {
                self.suppressions.insert(key, s);
            }
            None => {
                self.suppressions.remove(&key);
            }
        }
        self.set_flag(key, SUPPRESSED, suppression.is_some());
    }

    fn set_pause(&mut self, key: Key, until: Option<NaiveDateTime>) {
        match until {
            Some(until) => {
                self.paused.insert(key, until);
            }
            None => {
                self.paused.remove(&key);
            }
        }
        self.set_flag(key, PAUSED, until.is_some());
    }

    /// Drops an entry that says nothing.
    fn tidy(&mut self, key: Key) {
        if self.entries.get(&key).is_some_and(|e| *e == Entry::default()) {
            self.entries.remove(&key);
        }
    }

    /// Moves a contact's statuses, unsubscribe-all flag and pause to a new address;
    /// the suppressions stay with the address they were made for.
    fn move_contact(&mut self, from: Key, to: Key) {
        let Some(entry) = self.entries.get(&from).copied() else { return };
        let extra = self.overflow.remove(&from).unwrap_or_default();
        if let Some(until) = self.paused.remove(&from) {
            self.paused.insert(to, until);
        }
        let moved = Entry { flags: entry.flags & (UNSUBSCRIBED_ALL | OVERFLOW | PAUSED), slots: entry.slots };
        if let Some(e) = self.entries.get_mut(&from) {
            e.flags &= SUPPRESSED;
            e.slots = [0, 0];
        }
        self.tidy(from);
        let target = self.entries.entry(to).or_default();
        target.flags = (target.flags & SUPPRESSED) | moved.flags;
        target.slots = moved.slots;
        if !extra.is_empty() {
            self.overflow.insert(to, extra);
        }
        self.tidy(to);
    }

    fn forget_contact(&mut self, key: Key) {
        self.overflow.remove(&key);
        self.paused.remove(&key);
        if let Some(e) = self.entries.get_mut(&key) {
            e.flags &= SUPPRESSED;
            e.slots = [0, 0];
        }
        self.tidy(key);
    }

    fn state(&self, key: Key, topic_id: u32) -> AddressState {
        let Some(entry) = self.entries.get(&key) else { return AddressState::default() };
        let mut status = entry
            .slots
            .iter()
            .map(|s| u32::from(*s))
            .find(|s| *s != 0 && *s >> 2 == topic_id)
            .and_then(status_of);
        if status.is_none() && entry.flags & OVERFLOW != 0 {
            status = self
                .overflow
                .get(&key)
                .and_then(|x| x.iter().find(|s| **s >> 2 == topic_id))
                .and_then(|s| status_of(*s));
        }
        AddressState {
            suppression: if entry.flags & SUPPRESSED != 0 {
                self.suppressions.get(&key).copied()
            } else {
                None
            },
            unsubscribed_all: entry.flags & UNSUBSCRIBED_ALL != 0,
            status,
            paused_until: if entry.flags & PAUSED != 0 { self.paused.get(&key).copied() } else { None },
        }
    }

    fn apply(&mut self, event: &EventRow) -> Result<(), Error> {
        let key = event.address_hash.as_deref().and_then(Key::of);
        match (event.kind, key) {
            (EventType::SubscriptionChanged, Some(key)) => {
                let topic = event.topic_key.as_deref().unwrap_or_default();
                self.set_status(key, topic, event.new_status);
            }
            (EventType::UnsubscribedAllChanged, Some(key)) => {
                let on = event.new_status == Some(Status::Unsubscribed);
                self.set_flag(key, UNSUBSCRIBED_ALL, on);
            }
            (EventType::SuppressionAdded, Some(key)) => {
                let reason =
                    event.reason.ok_or_else(|| Error::bug("ledger: a suppression without its reason"))?;
                let scope = event.scope.unwrap_or(reason.default_scope());
                self.set_suppression(key, Some(Suppression { reason, scope, expires_at: event.expires_at }));
            }
            (EventType::SuppressionRemoved, Some(key)) => self.set_suppression(key, None),
            (EventType::ContactUpdated, Some(to)) => {
                if let Some(from) = event.previous_address_hash.as_deref().and_then(Key::of) {
                    self.move_contact(from, to);
                }
            }
            (EventType::ContactErased, Some(key)) => self.forget_contact(key),
            (EventType::PauseChanged, Some(key)) => self.set_pause(key, event.expires_at),
            _ => {}
        }
        Ok(())
    }
}

/// What the index answers about one address and topic.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub decision: Decision,
    pub category: Category,
}

/// Sizes, for `/metrics` and the benchmark.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Stats {
    pub addresses: usize,
    pub suppressions: usize,
    pub overflow: usize,
    pub paused: usize,
    pub topics: usize,
    pub applied_seq: i64,
    /// Estimated heap bytes held by the index's tables.
    pub bytes: usize,
}

/// The index's size, exported on `/metrics`.
pub struct Gauges {
    addresses: prometheus::IntGauge,
    bytes: prometheus::IntGauge,
    applied_seq: prometheus::IntGauge,
}

impl Gauges {
    fn new() -> Self {
        let gauge =
            |name: &str, help: &str| prometheus::IntGauge::new(name, help).expect("a valid metric name");
        Self {
            addresses: gauge(
                "prefcenter_index_addresses",
                "Addresses with an explicit state in the decision index",
            ),
            bytes: gauge("prefcenter_index_bytes", "Estimated bytes held by the decision index's tables"),
            applied_seq: gauge(
                "prefcenter_index_applied_seq",
                "The last ledger sequence number applied to the index",
            ),
        }
    }

    pub fn register(&self, registry: &prometheus::Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.addresses.clone()))?;
        registry.register(Box::new(self.bytes.clone()))?;
        registry.register(Box::new(self.applied_seq.clone()))
    }
}

pub struct Index {
    pub gauges: Gauges,
    data: RwLock<Data>,
    applied: AtomicI64,
    loaded: AtomicBool,
    /// When the ledger was last read, in milliseconds since `started` (0: never).
    /// An atomic, not a lock: every check reads it.
    last_sync_ms: AtomicU64,
    started: Instant,
    /// One applier at a time, so events apply in sequence order.
    applying: Mutex<()>,
    stale_after: Duration,
    /// The last sequence number this process committed and acknowledged: until the
    /// index has applied it, checks answer 503 rather than from the state before it.
    required: AtomicI64,
    /// Counts this process's acknowledged writes whose events could not be numbered
    /// after their commit (PostgreSQL), and how many of those the tailer has since
    /// numbered: while they differ, checks answer 503, as for `required`.
    owed: AtomicU64,
    settled: AtomicU64,
}

/// How many events one read of the ledger takes.
const BATCH: i64 = 10_000;

impl Index {
    pub fn new(stale_after: Duration) -> Self {
        Self {
            gauges: Gauges::new(),
            data: RwLock::new(Data::default()),
            applied: AtomicI64::new(0),
            loaded: AtomicBool::new(false),
            last_sync_ms: AtomicU64::new(0),
            started: Instant::now(),
            applying: Mutex::new(()),
            stale_after,
            required: AtomicI64::new(0),
            owed: AtomicU64::new(0),
            settled: AtomicU64::new(0),
        }
    }

    /// The topics as of the last event applied, once the index is loaded.
    pub fn catalog(&self) -> Option<Arc<Catalog>> {
        if !self.is_loaded() {
            return None;
        }
        Some(Arc::clone(&self.data.read().unwrap_or_else(|e| e.into_inner()).catalog))
    }

    /// Builds the index from the tables, then applies the ledger from the sequence
    /// number read before the tables: events replayed over state that already holds
    /// them change nothing, as each carries the new state, not a difference.
    pub fn load(&self, db: &mut Db) -> Result<(), Error> {
        let _applying = self.applying.lock().unwrap_or_else(|e| e.into_inner());
        let started = Instant::now();
        let head = store::events::head(db)?;
        let mut data = Data::default();
        data.set_topics(store::topics::catalog(db)?);
        // Sized once: growing a table of a million slots rehashes it twenty times.
        data.entries.reserve(usize::try_from(store::subscriptions::contacts_with_statuses(db)?).unwrap_or(0));
        store::subscriptions::for_each_for_index(db, |row| {
            if let Some(key) = Key::of(&row.address_hash) {
                data.set_status(key, &row.topic_key, Some(row.status));
            }
        })?;
        for hash in store::contacts::unsubscribed_all_hashes(db)? {
            if let Some(key) = Key::of(&hash) {
                data.set_flag(key, UNSUBSCRIBED_ALL, true);
            }
        }
        for row in store::suppressions::all(db)? {
            let Some(key) = Key::of(&row.address_hash) else { continue };
            let suppression =
                Suppression { reason: row.reason, scope: row.scope, expires_at: row.expires_at };
            data.set_suppression(key, Some(suppression));
        }
        for (hash, until) in store::contacts::paused_after(db, store::now())? {
            if let Some(key) = Key::of(&hash) {
                data.set_pause(key, until);
            }
        }
        *self.data.write().unwrap_or_else(|e| e.into_inner()) = data;
        self.applied.store(head, Ordering::SeqCst);
        self.apply_pending(db)?;
        self.loaded.store(true, Ordering::SeqCst);
        let stats = self.stats();
        tracing::info!(
            addresses = stats.addresses,
            bytes = stats.bytes,
            seq = stats.applied_seq,
            ms = started.elapsed().as_millis() as u64,
            "decision index loaded"
        );
        Ok(())
    }

    /// Applies every event after the last one applied. Called by the tailer, and by
    /// a request right after its own write commits (read-your-writes).
    pub fn catch_up(&self, db: &mut Db) -> Result<(), Error> {
        if !self.loaded.load(Ordering::SeqCst) {
            return Ok(());
        }
        let _applying = self.applying.lock().unwrap_or_else(|e| e.into_inner());
        self.apply_pending(db)
    }

    fn apply_pending(&self, db: &mut Db) -> Result<(), Error> {
        loop {
            let after = self.applied.load(Ordering::SeqCst);
            let (events, topics) = read_after(db, after)?;
            let complete = (events.len() as i64) < BATCH;
            self.apply_events(&events, topics)?;
            if complete {
                break;
            }
        }
        self.synced();
        Ok(())
    }

    /// Applies events read from the ledger, skipping those already applied; the
    /// caller holds `applying`.
    fn apply_events(&self, events: &[EventRow], topics: Option<Catalog>) -> Result<(), Error> {
        let after = self.applied.load(Ordering::SeqCst);
        let fresh: Vec<&EventRow> = events.iter().filter(|e| e.seq > after).collect();
        let Some(last) = fresh.last().map(|e| e.seq) else { return Ok(()) };
        let mut data = self.data.write().unwrap_or_else(|e| e.into_inner());
        if let Some(topics) = topics {
            data.set_topics(topics);
        }
        for event in fresh {
            data.apply(event)?;
        }
        drop(data);
        self.applied.store(last, Ordering::SeqCst);
        Ok(())
    }

    fn synced(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX).max(1);
        self.last_sync_ms.store(ms, Ordering::SeqCst);
    }

    /// Called once a write transaction has committed, before its writes are answered,
    /// with what it left in the ledger. When nothing came between the index's last
    /// event and those (the usual case), applies them as written, with no read;
    /// otherwise reads everything after the index's last. Should that fail, or should
    /// the events be still unnumbered, the index refuses to decide until the tailer has
    /// caught up, so that no check answers from the state before an acknowledged write.
    pub fn apply_committed(&self, recorded: Recorded, db: &mut Db) {
        let numbered = match recorded {
            Recorded::Numbered(numbered) => numbered,
            Recorded::Unnumbered(e) => return self.owe(&e, None),
        };
        if !self.is_loaded() {
            // The load reads everything once it runs.
            return;
        }
        let _applying = self.applying.lock().unwrap_or_else(|e| e.into_inner());
        let head = numbered.head;
        let mut result = Ok(());
        let next = self.applied.load(Ordering::SeqCst) + 1;
        if numbered.events.first().is_some_and(|first| first.seq == next) {
            result = read_topics_if_changed(db, &numbered.events)
                .and_then(|topics| self.apply_events(&numbered.events, topics));
        }
        if result.is_ok() && self.applied.load(Ordering::SeqCst) < head {
            result = self.apply_pending(db);
        }
        if let Err(e) = result {
            self.required.fetch_max(head, Ordering::SeqCst);
            tracing::warn!(
                error = %e,
                seq = head,
                "the index could not apply a committed write; checks answer 503 until it has"
            );
        }
    }

    /// Records that committed, acknowledged writes could not be numbered or applied
    /// (`why`): checks answer 503 until the tailer has numbered (PostgreSQL) and applied
    /// them. `last` is their last event's `seq`, a provisional one on PostgreSQL.
    pub fn owe(&self, why: &Error, last: Option<i64>) {
        match last {
            // Numbered already (SQLite): the tailer applies them as any others.
            Some(seq) if seq > 0 => {
                self.required.fetch_max(seq, Ordering::SeqCst);
            }
            _ => {
                self.owed.fetch_add(1, Ordering::SeqCst);
            }
        }
        tracing::warn!(
            error = %why,
            "a committed write could not be numbered in the ledger; checks answer 503 until it is"
        );
    }

    /// One round of the ledger tailer: numbers what waits for a number (PostgreSQL)
    /// when this process owes some or `strays` asks (a process that died between its
    /// commit and its numbering left events behind), then loads the index or catches
    /// it up.
    fn tail(&self, db: &mut Db, strays: bool) -> Result<(), Error> {
        let owed = self.owed.load(Ordering::SeqCst);
        let owing = owed > self.settled.load(Ordering::SeqCst);
        let numbered = if owing || (strays && store::events::unnumbered(db)?) {
            Some(store::events::number(db)?.head)
        } else {
            None
        };
        if self.is_loaded() {
            self.catch_up(db)?;
        } else {
            self.load(db)?;
        }
        // What was owed is settled once numbered and applied: checks answer again.
        if let (true, Some(head)) = (owing, numbered) {
            if self.applied.load(Ordering::SeqCst) >= head {
                self.settled.fetch_max(owed, Ordering::SeqCst);
            }
        }
        Ok(())
    }

    fn update_gauges(&self) {
        let stats = self.stats();
        self.gauges.addresses.set(stats.addresses as i64);
        self.gauges.bytes.set(stats.bytes as i64);
        self.gauges.applied_seq.set(stats.applied_seq);
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::SeqCst)
    }

    /// 503 unless the index is loaded and has read the ledger within the stale bound:
    /// a stale index never says yes.
    pub fn ensure_fresh(&self) -> Result<(), Error> {
        if !self.is_loaded() {
            return Err(Error::Unavailable("the decision index is still loading".into()));
        }
        let last = self.last_sync_ms.load(Ordering::SeqCst);
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let stale_after = u64::try_from(self.stale_after.as_millis()).unwrap_or(u64::MAX);
        let owed = self.owed.load(Ordering::SeqCst) > self.settled.load(Ordering::SeqCst);
        if owed || self.applied.load(Ordering::SeqCst) < self.required.load(Ordering::SeqCst) {
            Err(Error::Unavailable("the decision index has not yet applied a committed write".into()))
        } else if last > 0 && now.saturating_sub(last) <= stale_after {
            Ok(())
        } else {
            Err(Error::Unavailable("the decision index has not read the ledger lately".into()))
        }
    }

    /// Decides for many addresses under one read lock; `None` for an unknown topic.
    pub fn decide_all<'a>(
        &self,
        hashes: impl Iterator<Item = Option<&'a AddressHash>>,
        topic: &str,
        now: NaiveDateTime,
        mut each: impl FnMut(Option<Answer>),
    ) -> Result<(), UnknownTopic> {
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        let topic = *data.topics.get(topic).ok_or(UnknownTopic)?;
        for hash in hashes {
            each(hash.map(|hash| {
                let state = Key::of(&hash.0).map(|k| data.state(k, topic.id)).unwrap_or_default();
                Answer { decision: decide(&state, &topic.rules, now), category: topic.rules.category }
            }));
        }
        Ok(())
    }

    /// The keys of every topic the index knows, archived ones included.
    pub fn topic_keys(&self) -> Vec<crate::domain::TopicKey> {
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        data.topics.keys().map(|key| crate::domain::TopicKey::from_stored(key.clone())).collect()
    }

    /// The category of a topic the index knows.
    pub fn category(&self, topic: &str) -> Option<Category> {
        self.data.read().unwrap_or_else(|e| e.into_inner()).topics.get(topic).map(|t| t.rules.category)
    }

    /// How many addresses hold each explicit status on each topic the index knows,
    /// by topic key: counted in memory, so the dashboard asks no query of the
    /// subscriptions table.
    pub fn statuses_per_topic(&self) -> HashMap<String, StatusCounts> {
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        // Topic numbers are handed out densely from 1: a vector, not a map, for the
        // million lookups of a large index.
        let mut by_id = vec![StatusCounts::default(); data.topic_ids.len() + 1];
        let mut add = |code: u32| {
            let Some(counts) = by_id.get_mut((code >> 2) as usize) else { return };
            match status_of(code) {
                Some(Status::Subscribed) => counts.subscribed += 1,
                Some(Status::Unsubscribed) => counts.unsubscribed += 1,
                Some(Status::Pending) => counts.pending += 1,
                None => {}
            }
        };
        for entry in data.entries.values() {
            entry.slots.iter().filter(|s| **s != 0).for_each(|s| add(u32::from(*s)));
        }
        for codes in data.overflow.values() {
            codes.iter().for_each(|c| add(*c));
        }
        data.topic_ids
            .iter()
            .filter_map(|(key, id)| by_id.get(*id as usize).map(|counts| (key.clone(), *counts)))
            .collect()
    }

    /// How many addresses each reason suppresses now (expired ones left out).
    pub fn suppressions_by_reason(&self, now: NaiveDateTime) -> HashMap<crate::domain::Reason, u64> {
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        let mut counts = HashMap::new();
        for s in data.suppressions.values().filter(|s| s.expires_at.is_none_or(|at| at > now)) {
            *counts.entry(s.reason).or_default() += 1;
        }
        counts
    }

    /// How long ago the index last read the ledger; `None` before it first has.
    pub fn synced_ago(&self) -> Option<Duration> {
        let last = self.last_sync_ms.load(Ordering::SeqCst);
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        (last > 0).then(|| Duration::from_millis(now.saturating_sub(last)))
    }

    pub fn stats(&self) -> Stats {
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        let slot = std::mem::size_of::<(Key, Entry)>() + 1;
        let bytes = data.entries.capacity() * slot
            + data.suppressions.capacity() * (std::mem::size_of::<(Key, Suppression)>() + 1)
            + data.overflow.capacity() * (std::mem::size_of::<(Key, Vec<u32>)>() + 1)
            + data.overflow.values().map(|v| v.capacity() * 4).sum::<usize>()
            + data.paused.capacity() * (std::mem::size_of::<(Key, NaiveDateTime)>() + 1);
        Stats {
            addresses: data.entries.len(),
            suppressions: data.suppressions.len(),
            overflow: data.overflow.len(),
            paused: data.paused.len(),
            topics: data.topics.len(),
            applied_seq: self.applied.load(Ordering::SeqCst),
            bytes,
        }
    }
}

/// How many addresses hold each explicit status on one topic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub subscribed: u64,
    pub unsubscribed: u64,
    pub pending: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct UnknownTopic;

/// Up to `BATCH` events after `after`, with the topics when one of them changed a topic.
fn read_after(db: &mut Db, after: i64) -> Result<(Vec<EventRow>, Option<Catalog>), Error> {
    let events = store::events::after(db, after, BATCH)?;
    let topics = read_topics_if_changed(db, &events)?;
    Ok((events, topics))
}

/// The topics as stored, when one of `events` changed a topic.
fn read_topics_if_changed(db: &mut Db, events: &[EventRow]) -> Result<Option<Catalog>, Error> {
    let changed = events.iter().any(|e| e.kind == EventType::TopicChanged);
    Ok(if changed { Some(store::topics::catalog(db)?) } else { None })
}

/// What the ledger tailer reads through. The tailer holds its owner only weakly and
/// borrows these for one round at a time, so that it keeps neither the index nor a
/// database connection alive once the owner is gone.
pub trait Tailed: Send + Sync + 'static {
    fn index(&self) -> &Index;
    fn pool(&self) -> &Pool;
    fn database_url(&self) -> &DatabaseUrl;
}

/// Keeps the index current: loads it, then reads the ledger every `poll` (and, on
/// PostgreSQL, as soon as a `NOTIFY` says something was written). Ends when `owner`
/// is dropped.
pub fn spawn_tailer<T: Tailed>(owner: std::sync::Weak<T>, poll: Duration) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("ledger-tailer".into())
        .spawn(move || {
            let mut listener: Option<store::Listener> = None;
            let mut last_poll = Instant::now() - poll;
            loop {
                let Some(owner) = owner.upgrade() else { return };
                let index = owner.index();
                let woken = match listener.as_mut().map(store::Listener::notified) {
                    Some(Some(woken)) => woken,
                    Some(None) => {
                        listener = None;
                        true
                    }
                    None => {
                        listener = store::Listener::open(owner.database_url());
                        false
                    }
                };
                let polled = last_poll.elapsed() >= poll;
                if woken || polled || !index.is_loaded() {
                    last_poll = Instant::now();
                    let result = owner
                        .pool()
                        .get()
                        .map_err(|e| Error::Unavailable(e.to_string()))
                        .and_then(|mut db| index.tail(&mut db, polled || !index.is_loaded()));
                    match result {
                        Ok(()) => index.update_gauges(),
                        Err(e) => tracing::warn!(error = %e, "cannot read the ledger"),
                    }
                }
                drop(owner);
                std::thread::sleep(Duration::from_millis(20).min(poll));
            }
        })
        .expect("a thread for the ledger tailer")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Reason, Scope};

    fn key(n: u8) -> Key {
        Key::of(&[n; 32]).unwrap()
    }

    #[test]
    fn slots_overflow_and_come_back() {
        let mut data = Data::default();
        for (i, topic) in ["a", "b", "c", "d"].iter().enumerate() {
            data.set_status(
                key(1),
                topic,
                Some(if i % 2 == 0 { Status::Subscribed } else { Status::Unsubscribed }),
            );
        }
        let ids: Vec<u32> = ["a", "b", "c", "d"].iter().map(|t| data.topic_id(t)).collect();
        let got: Vec<Option<Status>> = ids.iter().map(|id| data.state(key(1), *id).status).collect();
        assert_eq!(
            got,
            [
                Some(Status::Subscribed),
                Some(Status::Unsubscribed),
                Some(Status::Subscribed),
                Some(Status::Unsubscribed)
            ]
        );
        data.set_status(key(1), "c", Some(Status::Pending));
        assert_eq!(data.state(key(1), ids[2]).status, Some(Status::Pending));
        for topic in ["a", "b", "c", "d"] {
            data.set_status(key(1), topic, None);
        }
        assert!(data.entries.is_empty() && data.overflow.is_empty(), "nothing left to say");
    }

    #[test]
    fn moving_a_contact_leaves_the_suppression_behind() {
        let mut data = Data::default();
        data.set_status(key(1), "a", Some(Status::Subscribed));
        data.set_flag(key(1), UNSUBSCRIBED_ALL, true);
        let bounce = Suppression { reason: Reason::HardBounce, scope: Scope::All, expires_at: None };
        data.set_suppression(key(1), Some(bounce));
        data.move_contact(key(1), key(2));
        let a = data.topic_id("a");
        assert_eq!(
            data.state(key(1), a),
            AddressState { suppression: Some(bounce), ..AddressState::default() }
        );
        assert_eq!(
            data.state(key(2), a),
            AddressState {
                unsubscribed_all: true,
                status: Some(Status::Subscribed),
                ..AddressState::default()
            }
        );
    }

    #[test]
    fn a_pause_follows_its_events_and_its_contact() {
        let mut data = Data::default();
        let until = chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap().naive_utc();
        let mut event = EventRow::new(EventType::PauseChanged, until, "page");
        event.address_hash = Some(vec![1; 32]);
        event.expires_at = Some(until);
        data.apply(&event).unwrap();
        let a = data.topic_id("a");
        assert_eq!(data.state(key(1), a).paused_until, Some(until));
        data.set_status(key(1), "a", Some(Status::Subscribed));
        data.move_contact(key(1), key(2));
        assert_eq!(data.state(key(1), a), AddressState::default(), "nothing stays behind");
        assert_eq!(data.state(key(2), a).paused_until, Some(until));
        event.address_hash = Some(vec![2; 32]);
        event.expires_at = None;
        data.apply(&event).unwrap();
        assert_eq!(data.state(key(2), a).paused_until, None, "resumed");
        data.set_status(key(2), "a", None);
        assert!(data.entries.is_empty() && data.paused.is_empty(), "nothing left to say");
    }

    #[test]
    fn topics_past_the_inline_numbers_never_share_a_status() {
        let mut data = Data::default();
        let keys: Vec<String> = (0..INLINE_TOPICS + 10).map(|n| format!("t{n}")).collect();
        for key in &keys {
            data.topic_id(key);
        }
        let (low, high, higher) =
            (&keys[5], &keys[INLINE_TOPICS as usize + 2], &keys[INLINE_TOPICS as usize + 3]);
        data.set_status(key(1), high, Some(Status::Unsubscribed));
        data.set_status(key(1), low, Some(Status::Subscribed));
        data.set_status(key(1), higher, Some(Status::Pending));
        let state = |data: &Data, topic: &String| data.state(key(1), data.topic_ids[topic]).status;
        assert_eq!(state(&data, high), Some(Status::Unsubscribed));
        assert_eq!(state(&data, low), Some(Status::Subscribed));
        assert_eq!(state(&data, higher), Some(Status::Pending));
        assert_eq!(state(&data, &keys[INLINE_TOPICS as usize + 9]), None, "a topic with no status has none");
        data.set_status(key(1), high, None);
        assert_eq!(state(&data, high), None);
        assert_eq!(state(&data, higher), Some(Status::Pending));
    }

    #[test]
    fn statuses_are_counted_per_topic_inline_and_overflowed() {
        let index = Index::new(Duration::from_secs(5));
        {
            let mut data = index.data.write().unwrap();
            for topic in ["a", "b", "c"] {
                data.set_status(key(1), topic, Some(Status::Subscribed));
            }
            data.set_status(key(2), "a", Some(Status::Unsubscribed));
            data.set_status(key(3), "c", Some(Status::Pending));
        }
        let counts = index.statuses_per_topic();
        assert_eq!(counts["a"], StatusCounts { subscribed: 1, unsubscribed: 1, pending: 0 });
        assert_eq!(
            counts["c"],
            StatusCounts { subscribed: 1, unsubscribed: 0, pending: 1 },
            "one overflowed"
        );
        assert_eq!(counts.len(), 3);
    }

    #[test]
    fn an_entry_is_24_bytes() {
        assert_eq!(std::mem::size_of::<(Key, Entry)>(), 24);
    }
}
