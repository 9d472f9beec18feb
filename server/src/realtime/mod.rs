//! Live updates: the hub reads every change back from SurrealDB (LIVE
//! SELECT) and fans it out to the sockets of this node; `socket` serves
//! `/ws`, one per browser tab. Nothing here is the source of truth: two
//! nodes on one database each see every change and behave as one.

pub mod hub;
pub mod socket;

pub use hub::{Change, Hub};
