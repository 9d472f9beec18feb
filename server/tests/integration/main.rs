//! Every integration test of the server, in one test binary: each binary
//! links all of SurrealDB, so one link instead of one per file saves
//! minutes of every `make test` on two cores.

mod access_matrix;
mod cli;
mod common;
mod consultations;
mod http;
mod invite_pages;
mod messaging_setup;
mod notifications;
mod portal;
mod rest_api;
mod seed;
mod sms_webhooks;
mod webhooks;
