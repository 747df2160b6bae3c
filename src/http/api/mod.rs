//! The JSON API for mailing systems and operators, under `/v1`.

pub mod api_keys;
pub mod contacts;
pub mod topics;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(topics::configure).configure(contacts::configure).configure(api_keys::configure);
}
