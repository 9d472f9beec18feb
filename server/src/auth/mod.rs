//! Staff authentication building blocks: passwords, secrets, the session
//! cookie and sign-in rate limits. (SSO methods arrive as siblings.)

pub mod cookie;
pub mod password;
pub mod portal;
pub mod rate_limit;
pub mod token;
