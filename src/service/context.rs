//! What the use cases share: the settings, the store, the keys, the decision index,
//! the mailer and the writer. `lib.rs` builds one; the HTTP layer (and whatever else
//! comes to call the services) holds it and hands it to every service function.

use std::sync::Arc;

use crate::config::Config;
use crate::domain::pseudonym::Pseudonymizer;
use crate::domain::token::TokenKeys;
use crate::domain::AddressHasher;
use crate::index::{Index, Tailed};
use crate::mailer::Mailer;
use crate::service::api_keys::KeyCache;
use crate::service::clicks::Clicks;
use crate::service::feedback::Providers;
use crate::service::group_commit::Writer;
use crate::service::lag::Lag;
use crate::service::mail_limits::MailLimits;
use crate::service::privacy::PurgeMetrics;
use crate::service::webhooks::WebhookMetrics;
use crate::store::{DatabaseUrl, Pool};

/// What every service function is given.
pub struct Context {
    pub config: Config,
    pub pool: Pool,
    pub hasher: AddressHasher,
    pub pseudonymizer: Pseudonymizer,
    pub tokens: TokenKeys,
    pub mailer: Mailer,
    pub mail_from: lettre::message::Mailbox,
    pub mail_limits: MailLimits,
    pub keys: KeyCache,
    pub index: Arc<Index>,
    pub purged: PurgeMetrics,
    pub providers: Providers,
    pub writer: Writer,
    /// The kind recipients' clicks are written under, many at a time.
    pub clicks: Arc<Clicks>,
    pub webhooks: WebhookMetrics,
    pub lag: Lag,
    pub brand: crate::brand::Brand,
}

impl Tailed for Context {
    fn index(&self) -> &Index {
        &self.index
    }

    fn pool(&self) -> &Pool {
        &self.pool
    }

    fn database_url(&self) -> &DatabaseUrl {
        &self.config.database_url
    }
}
