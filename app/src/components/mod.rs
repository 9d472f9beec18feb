pub mod chat;
pub mod devices;
pub mod outcome;
pub mod patient_frame;
pub mod staff_shell;
