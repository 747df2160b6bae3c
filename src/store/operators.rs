//! Queries on `operators`: the console's people.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::operators;
use super::Db;
use crate::domain::Role;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = operators)]
pub struct OperatorRow {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// The argon2id hash, as a PHC string.
    pub password_hash: String,
    pub locale: String,
    pub disabled_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(db: &mut Db, row: &OperatorRow) -> QueryResult<()> {
    diesel::insert_into(operators::table).values(row).execute(db).map(drop)
}

pub fn by_email(db: &mut Db, email: &str) -> QueryResult<Option<OperatorRow>> {
    operators::table.filter(operators::email.eq(email)).select(OperatorRow::as_select()).first(db).optional()
}

pub fn by_id(db: &mut Db, id: &str) -> QueryResult<Option<OperatorRow>> {
    operators::table.find(id).select(OperatorRow::as_select()).first(db).optional()
}

pub fn list(db: &mut Db) -> QueryResult<Vec<OperatorRow>> {
    operators::table.order(operators::email).select(OperatorRow::as_select()).load(db)
}

pub fn set_password(db: &mut Db, id: &str, hash: &str, at: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(operators::table.find(id))
        .set((operators::password_hash.eq(hash), operators::updated_at.eq(at)))
        .execute(db)
        .map(|n| n == 1)
}

pub fn set_locale(db: &mut Db, id: &str, locale: &str, at: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(operators::table.find(id))
        .set((operators::locale.eq(locale), operators::updated_at.eq(at)))
        .execute(db)
        .map(|n| n == 1)
}

/// Marks the operator disabled; `false` when there was no enabled operator with that id.
pub fn disable(db: &mut Db, id: &str, at: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(operators::table.find(id).filter(operators::disabled_at.is_null()))
        .set((operators::disabled_at.eq(at), operators::updated_at.eq(at)))
        .execute(db)
        .map(|n| n == 1)
}
