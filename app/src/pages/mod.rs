//! One module per screen. Pages render on the server; their live parts are
//! islands. Staff screens are compiled into the staff bundle only.

#[cfg(any(feature = "ssr", feature = "staff"))]
pub mod account_password;
#[cfg(any(feature = "ssr", feature = "staff"))]
pub mod admin_api_keys;
#[cfg(any(feature = "ssr", feature = "staff"))]
pub mod admin_audit;
#[cfg(any(feature = "ssr", feature = "staff"))]
pub mod admin_messaging;
#[cfg(any(feature = "ssr", feature = "staff"))]
pub mod admin_queues;
#[cfg(any(feature = "ssr", feature = "staff"))]
pub mod admin_sign_in;
#[cfg(any(feature = "ssr", feature = "staff"))]
pub mod admin_translators;
#[cfg(any(feature = "ssr", feature = "staff"))]
pub mod admin_users;
#[cfg(any(feature = "ssr", feature = "staff"))]
pub mod admin_webhooks;
#[cfg(any(feature = "ssr", feature = "staff"))]
pub mod dashboard;
pub mod invite;
#[cfg(any(feature = "ssr", feature = "staff"))]
pub mod login;
#[cfg(any(feature = "ssr", feature = "staff"))]
pub mod login_second_factor;
pub mod not_found;
pub mod room;
