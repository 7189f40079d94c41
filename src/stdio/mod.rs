//! Standard input and output for long-running commands: the output buffer
//! that writes whole lines and treats a closed pipe as done ([`out`]),
//! termination and hang-up signals as flags ([`signals`]), and reading
//! lines of bounded length ([`lines`]).
//!
//! What does not belong here: formats (`format/`) and what a face says.

pub mod lines;
pub mod out;
pub mod signals;
