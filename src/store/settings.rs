//! Named values the service generates once and keeps: hashing and signing keys.

use diesel::prelude::*;

use super::schema::settings;
use super::Db;
use crate::error::Error;

pub fn get(db: &mut Db, name: &str) -> QueryResult<Option<String>> {
    settings::table.find(name).select(settings::value).first(db).optional()
}

/// The stored value, or `init()` stored now. Call inside `store::write`, whose lock
/// makes two processes starting at once agree on one value.
pub fn get_or_init(db: &mut Db, name: &str, init: impl FnOnce() -> String) -> Result<String, Error> {
    if let Some(value) = get(db, name)? {
        return Ok(value);
    }
    let value = init();
    diesel::insert_into(settings::table)
        .values((settings::name.eq(name), settings::value.eq(&value)))
        .execute(db)?;
    Ok(value)
}
