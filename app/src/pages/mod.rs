//! One module per screen.

pub mod account_password;
pub mod admin_queues;
pub mod admin_users;
pub mod dashboard;
pub mod invite;
pub mod login;
pub mod not_found;
pub mod room;
