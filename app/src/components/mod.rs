pub mod chat;
pub mod devices;
#[cfg(any(feature = "ssr", feature = "staff"))]
pub mod members;
pub mod outcome;
pub mod patient_frame;
pub mod refresh;
#[cfg(any(feature = "ssr", feature = "staff"))]
pub mod staff_shell;
