//! Staff authentication building blocks: passwords, secrets, the session
//! cookie and sign-in rate limits. and the single-sign-on methods.

pub mod cookie;
pub mod external;
pub mod ldap;
pub mod oidc;
pub mod password;
pub mod portal;
pub mod rate_limit;
pub mod saml;
pub mod token;
pub mod totp;
