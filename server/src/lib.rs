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
//! - [`http`] — the axum router: pages, server functions, health, middleware.
//! - [`serve`] — start-up and graceful shutdown.
//! - [`state`] — what handlers share.

pub mod accounts;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod http;
pub mod logging;
pub mod serve;
pub mod state;
