//! # Visita — the server
//!
//! The `visita` binary's library: everything but `main`.
//!
//! ## Layout
//! - [`cli`] — the command line (`serve`, `migrate`, `admin …`).
//! - [`commands`] — what each command does.
//! - [`config`] — defaults → `visita.toml` → `VISITA_*`, validated up front.
//! - [`logging`] — `tracing` output, text or JSON.
//! - [`db`] — SurrealDB connection, migrations, one module per table.
//! - [`auth`] — passwords, secrets, session cookie, sign-in rate limits.
//! - [`accounts`] — staff accounts and sessions (implements `app::ssr::Accounts`).
//! - [`consultations`] — booking, links, waiting room, chat (implements `app::ssr::Consultations`).
//! - [`timezones`] — appointment times between the clinician's and the patient's zones.
//! - [`realtime`] — live updates from the database to `/ws` sockets.
//! - [`report`] — the PDF report of a consultation.
//! - [`files`] — chat attachments on disk, checked by content.
//! - [`http`] — the axum router: pages, server functions, health, middleware.
//! - [`serve`] — start-up and graceful shutdown.
//! - [`state`] — what handlers share.

pub mod accounts;
pub mod auth;
pub mod branding;
pub mod cli;
pub mod commands;
pub mod config;
pub mod consultations;
pub mod db;
pub mod fhir;
pub mod files;
pub mod http;
pub mod logging;
pub mod notify;
pub mod realtime;
pub mod report;
pub mod rest;
pub mod serve;
pub mod sfu;
pub mod state;
pub mod timezones;
pub mod turn;
pub mod webhooks;
