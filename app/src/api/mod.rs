//! Server functions, grouped by resource. Each one is a public HTTP endpoint
//! (`POST /api/<name>`): it starts from `ctx()`, asks `authorize` (directly,
//! or through a service that reads the facts the policy needs), and only
//! then acts.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod chat;
pub mod consultations;
pub mod messaging;
pub mod queues;
pub mod sign_in_admin;
pub mod translators;
pub mod users;
pub mod webhooks;
