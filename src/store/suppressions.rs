//! Queries on `suppressions`, keyed by the keyed address hash.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::suppressions;
use super::Db;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = suppressions)]
pub struct SuppressionRow {
    pub address_hash: Vec<u8>,
    pub email: Option<String>,
    pub reason: String,
    pub scope: String,
    pub source: String,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
}

pub fn find(db: &mut Db, hash: &[u8]) -> QueryResult<Option<SuppressionRow>> {
    suppressions::table.find(hash).select(SuppressionRow::as_select()).first(db).optional()
}

pub fn delete(db: &mut Db, hash: &[u8]) -> QueryResult<()> {
    diesel::delete(suppressions::table.find(hash)).execute(db).map(drop)
}
