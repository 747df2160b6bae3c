//! Pure domain logic: no I/O, no async, no diesel. Everything here can be tested with
//! plain values.

pub mod address;
pub mod api_key;
pub mod colour;
pub mod consent;
pub mod decision;
pub mod feedback;
pub mod inbound;
pub mod json;
pub mod locale;
pub mod mail_token;
pub mod pause;
pub mod pseudonym;
pub mod text;
pub mod time;
pub mod token;
pub mod vocabulary;
pub mod webhook;

pub use address::{AddressHash, AddressHasher, InvalidAddress, NormalizedAddress};
pub use locale::Locale;
pub use vocabulary::*;
