//! The JSON API for mailing systems and operators, under `/v1`.

pub mod api_keys;
pub mod changes;
pub mod check;
pub mod consumers;
pub mod contacts;
pub mod feedback;
pub mod inbound;
pub mod reasons;
pub mod stats;
pub mod suppressions;
pub mod topics;
pub mod webhooks;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(check::configure)
        .configure(suppressions::configure)
        .configure(changes::configure)
        .configure(feedback::configure)
        .configure(inbound::configure)
        .configure(topics::configure)
        .configure(contacts::configure)
        .configure(reasons::configure)
        .configure(stats::configure)
        .configure(api_keys::configure)
        .configure(consumers::configure)
        .configure(webhooks::configure);
}
