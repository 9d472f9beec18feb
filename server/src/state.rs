//! What every request handler shares.

use crate::accounts::AccountService;
use crate::config::Config;
use crate::consultations::ConsultationService;
use crate::db::Db;
use crate::notify::clock::SystemClock;
use crate::notify::{Notifier, SetupError};
use crate::realtime::Hub;
use crate::sfu::Sfu;
use crate::sfu::pass::PassKeys;
use app::islands::AssetVersion;
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub accounts: Arc<AccountService>,
    pub consultations: Arc<ConsultationService>,
    /// Invites, reminders, replies by text message.
    pub notifier: Arc<Notifier>,
    /// The REST API's keys.
    pub api_keys: Arc<crate::rest::keys::ApiKeys>,
    /// Subscriptions and the dispatcher of outgoing webhooks.
    pub webhooks: Arc<crate::webhooks::Webhooks>,
    /// Company logos of seed-compatible sessions.
    pub logos: Arc<crate::branding::Logos>,
    /// The JWTs of seed-compatible session links.
    pub session_tokens: Arc<crate::rest::seed::SessionTokens>,
    /// Checks the hospital portal's sign-in tokens, when set up.
    pub portal: Option<Arc<crate::auth::portal::PortalJwt>>,
    pub hub: Hub,
    /// This node's SFU.
    pub sfu: Sfu,
    /// Turns true when the node shuts down: open sockets close.
    pub stop: watch::Receiver<bool>,
    pub leptos: LeptosOptions,
    /// The built site's version, for asset URLs and their caching.
    pub assets: AssetVersion,
}

impl AppState {
    /// The services over `db`, with `hub` for live updates and
    /// `media_secret` (shared by all nodes) for call passes and links.
    /// Fails when the messaging set-up (templates, SMTP TLS) is unusable.
    pub fn new(
        config: Config,
        db: Db,
        hub: Hub,
        stop: watch::Receiver<bool>,
        media_secret: Vec<u8>,
    ) -> Result<Self, SetupError> {
        let notifier = Arc::new(Notifier::new(
            &config,
            db.clone(),
            Arc::new(SystemClock),
            &media_secret,
            node_name(&config),
        )?);
        let consultations =
            Arc::new(ConsultationService::new(db.clone(), &config).with_notifier(notifier.clone()));
        let webhooks = Arc::new(crate::webhooks::Webhooks::new(
            db.clone(),
            &config.webhooks,
            &config.timezone,
            crate::notify::console::SecretBox::new(config.secrets_key.as_ref(), &media_secret),
            consultations.clone(),
            node_name(&config),
        ));
        let logos = Arc::new(crate::branding::Logos::new(
            db.clone(),
            webhooks.guard().clone(),
        ));
        let session_tokens = Arc::new(crate::rest::seed::SessionTokens::new(
            &media_secret,
            &config.public_url,
        ));
        // The configuration was checked when read: the key fits.
        let portal = config
            .portal_jwt
            .clone()
            .and_then(|c| crate::auth::portal::PortalJwt::new(c).ok())
            .map(Arc::new);
        let account_secrets =
            crate::notify::console::SecretBox::new(config.secrets_key.as_ref(), &media_secret);
        Ok(Self {
            portal,
            logos,
            session_tokens,
            sfu: Sfu::new(
                &config.media,
                PassKeys::new(media_secret).with_lifetime(config.media.pass_lifetime),
                config.addr.ip(),
                node_name(&config),
                db.clone(),
            ),
            accounts: Arc::new(
                AccountService::new(db.clone(), &config).with_secrets(account_secrets),
            ),
            consultations,
            webhooks,
            notifier,
            api_keys: Arc::new(
                crate::rest::keys::ApiKeys::new(db.clone()).with_timezone(&config.timezone),
            ),
            leptos: leptos_options(&config),
            assets: crate::http::assets::site_version(&config.site_dir),
            config: Arc::new(config),
            db,
            hub,
            stop,
        })
    }
}

/// How this node names itself in the database (host and port).
pub fn node_name(config: &Config) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "visita".into());
    format!("{host}:{}", config.addr.port())
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// Leptos options built from our configuration, not from `LEPTOS_*`
/// variables: one source of truth for where the site lives.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        // Unused: pages load their own bundle (app::islands::IslandScripts).
        .output_name("visita")
        .site_root(config.site_dir.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.addr)
        .build()
}
