//! Queries on `admin_changes`: API keys and webhooks created, revoked, changed — the
//! audit of settings that decide nothing about anyone's mail, kept beside the ledger.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::admin_changes;
use super::{Db, Tx};
use crate::domain::Source;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = admin_changes)]
pub struct AdminChangeRow {
    pub id: i64,
    pub occurred_at: NaiveDateTime,
    pub kind: String,
    pub detail: String,
    pub source: String,
    pub operator: Option<String>,
}

/// Records a change in the transaction that makes it: source `console` and the
/// operator's address when the transaction writes for an operator, source `admin`
/// (an API key's change) otherwise.
pub fn record(tx: &mut Tx, kind: &str, detail: &str) -> QueryResult<()> {
    let operator = tx.operator().map(str::to_owned);
    let source = if operator.is_some() { Source::Console } else { Source::Admin };
    diesel::insert_into(admin_changes::table)
        .values((
            admin_changes::occurred_at.eq(super::now()),
            admin_changes::kind.eq(kind),
            admin_changes::detail.eq(detail),
            admin_changes::source.eq(source.as_str()),
            admin_changes::operator.eq(operator),
        ))
        .execute(&mut **tx)
        .map(drop)
}

/// The latest `limit` changes made in the console, newest first.
pub fn by_operators(db: &mut Db, limit: i64) -> QueryResult<Vec<AdminChangeRow>> {
    admin_changes::table
        .filter(admin_changes::operator.is_not_null())
        .order(admin_changes::id.desc())
        .limit(limit)
        .select(AdminChangeRow::as_select())
        .load(db)
}
