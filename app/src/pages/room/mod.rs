//! `/room/<id>`: the one page of a consultation, for everyone in it. What
//! it shows follows the person's place, live: the waiting room (with the
//! device check and their place in the queue), "you left", the
//! consultation itself (video slot, people, chat, and for the clinician the
//! controls), or "the consultation has ended".
//!
//! - `page` (server only): loads the room and picks the island and bundle;
//! - [`visitor`]: the island of everyone who is not the host (patient bundle);
//! - `clinician`: the host's island (staff bundle);
//! - [`live`]: what both show and how they stay live.

pub mod live;
pub mod visitor;

#[cfg(any(feature = "ssr", feature = "staff"))]
pub mod clinician;
#[cfg(feature = "ssr")]
mod page;

#[cfg(feature = "ssr")]
pub use page::RoomPage;
