pub mod chat;
pub mod devices;
pub mod outcome;
pub mod patient_frame;
pub mod refresh;
#[cfg(any(feature = "ssr", feature = "staff"))]
pub mod staff_shell;
