//! Queries on `topics` and `topic_translations`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{subscriptions, topic_translations, topics};
use super::Db;
use crate::domain::Category;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = topics)]
pub struct TopicRow {
    pub key: String,
    pub name: String,
    pub description: String,
    pub category: Category,
    pub default_subscribed: bool,
    pub public: bool,
    pub position: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub archived_at: Option<NaiveDateTime>,
    /// How often it is sent, in the operator's words ("weekly"); empty when unsaid.
    pub frequency: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = topic_translations)]
pub struct TranslationRow {
    pub topic_key: String,
    pub locale: String,
    pub name: String,
    pub description: String,
    pub frequency: String,
}

pub fn insert(db: &mut Db, row: &TopicRow) -> QueryResult<()> {
    diesel::insert_into(topics::table).values(row).execute(db).map(drop)
}

/// Writes back every column but the key.
pub fn update(db: &mut Db, row: &TopicRow) -> QueryResult<()> {
    diesel::update(topics::table.find(&row.key))
        .set((
            topics::name.eq(&row.name),
            topics::description.eq(&row.description),
            topics::category.eq(&row.category),
            topics::default_subscribed.eq(row.default_subscribed),
            topics::public.eq(row.public),
            topics::position.eq(row.position),
            topics::updated_at.eq(row.updated_at),
            topics::archived_at.eq(row.archived_at),
            topics::frequency.eq(&row.frequency),
        ))
        .execute(db)
        .map(drop)
}

pub fn find(db: &mut Db, key: &str) -> QueryResult<Option<TopicRow>> {
    topics::table.find(key).select(TopicRow::as_select()).first(db).optional()
}

/// Topics in the operator's order.
pub fn list(db: &mut Db, include_archived: bool) -> QueryResult<Vec<TopicRow>> {
    let mut query =
        topics::table.order((topics::position, topics::key)).select(TopicRow::as_select()).into_boxed();
    if !include_archived {
        query = query.filter(topics::archived_at.is_null());
    }
    query.load(db)
}

/// Every topic, archived ones too, in order, with all their translations: what the
/// decision index keeps of topics, and the preference page reads from it.
#[derive(Debug, Default)]
pub struct Catalog {
    pub topics: Vec<TopicRow>,
    pub translations: Vec<TranslationRow>,
}

pub fn catalog(db: &mut Db) -> QueryResult<Catalog> {
    let topics = list(db, true)?;
    let keys: Vec<String> = topics.iter().map(|t| t.key.clone()).collect();
    let translations = translations(db, &keys)?;
    Ok(Catalog { topics, translations })
}

/// The position after the last topic, so that new topics list last.
pub fn next_position(db: &mut Db) -> QueryResult<i32> {
    let max: Option<i32> = topics::table.select(diesel::dsl::max(topics::position)).first(db)?;
    Ok(max.map_or(0, |m| m.saturating_add(1)))
}

pub fn delete(db: &mut Db, key: &str) -> QueryResult<()> {
    diesel::delete(topics::table.find(key)).execute(db).map(drop)
}

pub fn has_subscriptions(db: &mut Db, key: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(subscriptions::table.filter(subscriptions::topic_key.eq(key))))
        .get_result(db)
}

pub fn translations(db: &mut Db, keys: &[String]) -> QueryResult<Vec<TranslationRow>> {
    topic_translations::table
        .filter(topic_translations::topic_key.eq_any(keys))
        .order((topic_translations::topic_key, topic_translations::locale))
        .select(TranslationRow::as_select())
        .load(db)
}

pub fn replace_translations(db: &mut Db, key: &str, rows: &[TranslationRow]) -> QueryResult<()> {
    diesel::delete(topic_translations::table.filter(topic_translations::topic_key.eq(key))).execute(db)?;
    for row in rows {
        diesel::insert_into(topic_translations::table).values(row).execute(db)?;
    }
    Ok(())
}
