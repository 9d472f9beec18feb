#![recursion_limit = "256"]
//! # Visita — the shared application
//!
//! Everything the browser and the server both compile: domain types, the
//! authorization policy, server functions and the Leptos pages.
//!
//! ## Layout
//! - [`domain`] — roles, accounts, validation rules: plain data.
//! - [`channel_setup`] — the email and text-message fields the console edits.
//! - [`authz`] — `authorize(principal, action, resource)`, the one policy.
//! - [`error`] — `AppError`, what every server function returns.
//! - [`api`] — server functions (`POST /api/…`), one module per resource.
//! - [`components`] — building blocks shared by pages.
//! - [`pages`] — one module per screen, rendered on the server.
//! - [`islands`] — how the live parts of pages reach the browser.
//! - `ssr` — (server only) the traits the server implements for us.

pub mod api;
pub mod authz;
pub mod call;
pub mod channel_setup;
pub mod components;
pub mod consultation;
pub mod domain;
pub mod error;
pub mod i18n;
pub mod islands;
pub mod live;
pub mod media;
pub mod pages;
pub mod realtime;
#[cfg(feature = "ssr")]
mod site;
#[cfg(feature = "ssr")]
pub mod ssr;

#[cfg(feature = "ssr")]
pub use site::{App, shell};
