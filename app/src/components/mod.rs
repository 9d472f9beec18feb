//! Building blocks shared by pages.

pub mod outcome;
pub mod staff_shell;
