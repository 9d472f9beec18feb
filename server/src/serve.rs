//! `visita serve`: connect, migrate, make sure an admin exists, listen, and
//! stop gracefully on SIGTERM or Ctrl-C (in-flight requests finish; the
//! database is closed after the last one).

use crate::accounts::AccountService;
use crate::commands::{CommandError, banner};
use crate::config::Config;
use crate::db::Db;
use crate::realtime::Hub;
use crate::state::AppState;
use crate::turn::TurnServer;
use std::net::SocketAddr;
use std::sync::Arc;

pub async fn serve(config: Config) -> Result<(), CommandError> {
    if config.database.starts_with("surrealkv://") {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            CommandError::Invalid(format!(
                "VISITA_DATA_DIR: cannot create {}: {e}",
                config.data_dir.display()
            ))
        })?;
    }
    let db = Db::connect(&config).await?;
    let applied = db.migrate().await?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "database migrated");
    }
    // Listen before creating the first admin: if the port is taken we stop
    // here, and a generated password is never created without being shown.
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| CommandError::Bind {
            addr: config.addr,
            source,
        })?;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let (hub, hub_task) = Hub::start(db.clone(), stop.clone());
    let media_secret = db.media_secret().await?;
    let state = AppState::new(config.clone(), db.clone(), hub, stop.clone(), media_secret)
        .map_err(|e| CommandError::Invalid(e.to_string()))?;
    // The SAML identity provider's metadata is read and checked now: metadata
    // Visita could not check answers with stops the server with its reason.
    if let Some(saml) = state.accounts.saml() {
        saml.load().await.map_err(|e| {
            CommandError::Invalid(format!("VISITA_SAML_IDP_METADATA_URL/FILE: {e}"))
        })?;
    }
    // The console's messaging set-up, if one was saved, from the first request.
    state.notifier.follow_console().await;
    let scheduler = tokio::spawn(state.notifier.clone().run(stop.clone()));
    let dispatcher = tokio::spawn(state.webhooks.clone().run(stop.clone()));
    // The practice system's Appointments, when one is set up.
    let fhir_sync = config.fhir_client.clone().map(|fhir| {
        tokio::spawn(
            Arc::new(crate::fhir::sync::FhirSync::new(
                db.clone(),
                fhir,
                state.consultations.clone(),
                state.accounts.clone(),
                crate::state::node_name(&config),
                &config.timezone,
            ))
            .run(stop),
        )
    });
    let turn = match config.media.builtin_turn_port {
        None => None,
        Some(port) => Some(
            TurnServer::start(
                SocketAddr::new(state.sfu.bind_ip(), port),
                state.sfu.relay_target(),
                state.sfu.builtin_turn_key(),
                config.media.max_sessions as usize * crate::turn::RELAYS_PER_SESSION,
            )
            .await
            .map_err(|e| {
                CommandError::Invalid(format!(
                    "VISITA_TURN_PORT: the built-in TURN server {e} (choose another port, or off)"
                ))
            })?,
        ),
    };
    let first_admin = state
        .accounts
        .ensure_first_admin(
            &config.admin_email,
            config.admin_password.as_ref().map(|s| s.expose()),
        )
        .await
        .map_err(|e| CommandError::Invalid(format!("creating the first admin: {e}")))?;

    if state.assets.0.is_empty() {
        tracing::warn!(site_dir = %config.site_dir.display(), "no built site found: pages will not hydrate (run `make build`, or set VISITA_SITE_DIR)");
    }
    let sweeper = tokio::spawn(sweep_stale_sessions(state.accounts.clone()));
    let app = crate::http::router(state);
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, "listening");
    println!("{}", banner(&config, &first_admin));

    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    tracing::info!("stopped accepting requests; closing the database");
    if let Some(turn) = turn {
        turn.close().await;
    }
    sweeper.abort();
    // Open sockets and the live queries hold database handles: end them
    // first, or the embedded engine cannot close cleanly.
    let _ = stop_tx.send(true);
    if tokio::time::timeout(std::time::Duration::from_secs(5), hub_task)
        .await
        .is_err()
    {
        tracing::warn!("live updates did not stop within 5 s");
    }
    // A message being sent finishes (the providers time out within 20 s);
    // one not yet claimed waits in the database for the next start.
    if tokio::time::timeout(std::time::Duration::from_secs(30), scheduler)
        .await
        .is_err()
    {
        tracing::warn!("the message scheduler did not stop within 30 s");
    }
    if let Some(sync) = fhir_sync
        && tokio::time::timeout(std::time::Duration::from_secs(25), sync)
            .await
            .is_err()
    {
        tracing::warn!("the FHIR sync did not stop within 25 s");
    }
    // Same for a webhook being sent (10 s timeout); the rest stays queued.
    if tokio::time::timeout(std::time::Duration::from_secs(15), dispatcher)
        .await
        .is_err()
    {
        tracing::warn!("the webhook dispatcher did not stop within 15 s");
    }
    drop(db);
    Ok(())
}

/// Expired sessions whose browser never returns are deleted every 10 minutes.
async fn sweep_stale_sessions(accounts: Arc<AccountService>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        match accounts.sweep_stale_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "deleted expired sessions"),
            Err(error) => tracing::warn!(%error, "could not sweep expired sessions"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
