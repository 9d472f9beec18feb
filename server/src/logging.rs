//! Log lines through `tracing`: human-readable by default, JSON when asked
//! (`VISITA_LOG_FORMAT=json`), filtered by `RUST_LOG` (default `info`).
//! No code logs a password, a token or a cookie; secrets in the config print
//! as `Secret(…)`.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// `surrealkv=error`: after `Datastore::shutdown` has flushed and closed the
/// store, its `Drop` runs outside the runtime and warns that it cannot close
/// the store again — noise an operator cannot act on.
///
/// `rtc*=error`, `turn=off`: the media stack warns (and the TURN server
/// logs an error) for every malformed datagram that reaches a media port or
/// the TURN port; anyone on the internet could fill the log with them.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(
            "info,surrealdb=warn,surrealkv=error,tower_http=warn,\
             rtc=error,rtc_ice=error,rtc_dtls=error,rtc_srtp=error,turn=off",
        )
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
