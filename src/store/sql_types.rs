//! The domain's closed sets as SQL text: each `text_enum!` type reads and writes
//! itself as the snake_case word it serializes as, on both backends, so rows hold
//! `Status` rather than `String` and queries say `.eq(Status::Pending)`. A stored word
//! that names no member fails the read here, the one place it is checked.
//!
//! The impls live here rather than on the types' definitions: `domain/` knows nothing
//! of diesel. `foreign_derive` is diesel's own way of deriving for a type defined
//! elsewhere (the wrapper structs exist only to name the type to the derives).

use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;

use super::MultiBackend;
use crate::domain::{
    Category, ContactId, CountKind, EventType, Provider, Reason, Role, Scope, Source, Status,
    UnsubscribeReason, WebhookStatus,
};

/// A domain type stored as text: how it is written, and how it is read back.
trait StoredText: Sized {
    fn text(&self) -> std::borrow::Cow<'_, str>;
    fn from_text(text: &str) -> Result<Self, String>;
}

macro_rules! stored_as_text {
    ($($ty:ident),+ $(,)?) => { $(
        const _: () = {
            #[derive(diesel::AsExpression, diesel::FromSqlRow)]
            #[diesel(foreign_derive, sql_type = Text)]
            #[allow(dead_code)]
            struct Proxy($ty);
        };

        impl ToSql<Text, Pg> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                use std::io::Write;
                out.write_all(self.text().as_bytes())?;
                Ok(serialize::IsNull::No)
            }
        }

        impl ToSql<Text, Sqlite> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                match self.text() {
                    std::borrow::Cow::Borrowed(text) => out.set_value(text),
                    std::borrow::Cow::Owned(text) => out.set_value(text),
                }
                Ok(serialize::IsNull::No)
            }
        }

        impl ToSql<Text, MultiBackend> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value((Text, self));
                Ok(serialize::IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $ty {
            fn from_sql(bytes: <Pg as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
                Ok(<$ty as StoredText>::from_text(&text)?)
            }
        }

        impl FromSql<Text, Sqlite> for $ty {
            fn from_sql(bytes: <Sqlite as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Sqlite>>::from_sql(bytes)?;
                Ok(<$ty as StoredText>::from_text(&text)?)
            }
        }

        impl FromSql<Text, MultiBackend> for $ty {
            fn from_sql(bytes: <MultiBackend as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                bytes.from_sql::<Self, Text>()
            }
        }
    )+ };
}

/// The `text_enum!` words.
macro_rules! words {
    ($($ty:ident),+ $(,)?) => { $(
        impl StoredText for $ty {
            fn text(&self) -> std::borrow::Cow<'_, str> {
                self.as_str().into()
            }
            fn from_text(text: &str) -> Result<Self, String> {
                text.parse().map_err(|e: crate::domain::UnknownWord| format!("stored value: {e}"))
            }
        }
    )+ };
}

words!(
    Category,
    Status,
    Source,
    Reason,
    Scope,
    EventType,
    Provider,
    UnsubscribeReason,
    WebhookStatus,
    CountKind,
    Role
);

impl StoredText for ContactId {
    fn text(&self) -> std::borrow::Cow<'_, str> {
        self.to_string().into()
    }
    fn from_text(text: &str) -> Result<Self, String> {
        text.parse().map_err(|e| format!("stored contact id: {e}"))
    }
}

stored_as_text!(
    Category,
    Status,
    Source,
    Reason,
    Scope,
    EventType,
    Provider,
    UnsubscribeReason,
    WebhookStatus,
    Role,
    CountKind,
    ContactId
);

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    use super::super::Db;
    use crate::domain::{ContactId, Status};

    #[test]
    fn words_read_back_as_written_and_a_stranger_is_refused() {
        let mut db = Db::establish(":memory:").unwrap();
        for status in Status::ALL {
            let read: Status = diesel::select(status.into_sql::<Text>()).get_result(&mut db).unwrap();
            assert_eq!(read, *status);
            let text: String = diesel::select(status.into_sql::<Text>()).get_result(&mut db).unwrap();
            assert_eq!(text, status.as_str());
        }
        let id = ContactId::new();
        let text: String = diesel::select(id.into_sql::<Text>()).get_result(&mut db).unwrap();
        assert_eq!(text, id.to_string());
        assert_eq!(diesel::select(text.into_sql::<Text>()).get_result::<ContactId>(&mut db).unwrap(), id);
        assert!(diesel::select("Pending".into_sql::<Text>()).get_result::<Status>(&mut db).is_err());
        assert!(diesel::select("42".into_sql::<Text>()).get_result::<ContactId>(&mut db).is_err());
    }
}
