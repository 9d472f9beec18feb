//! Server functions, grouped by resource. Each one is a public HTTP endpoint
//! (`POST /api/<name>`): it starts from `ctx()`, asks `authorize`, and only
//! then calls the services.

pub mod auth;
pub mod users;
