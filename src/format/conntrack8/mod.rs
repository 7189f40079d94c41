//! conntrack(8)'s command line, as conntrack-tools 1.4.7 reads it: a GNU
//! `getopt_long` model ([`getopt`]), its option tables and the protocol
//! extensions' ([`options`]), the C readers of its values ([`values`]),
//! the reading of a whole command line into a template ([`command`]),
//! the entry `-I` builds from it ([`build`]), and `-R` files' word
//! splitting ([`words`]).
//!
//! Pure functions: nothing here reads a file or opens a socket; the
//! system's protocol and label names come in through
//! [`command::Lookup`]. What a command line *selects* is
//! [`crate::select::conntrack8`]; running it is the conntrack face.

pub mod build;
pub mod command;
mod fields;
pub mod getopt;
mod lists;
pub mod options;
pub mod template;
pub mod values;
pub mod words;

pub use command::{parse, Command, Lookup, ParseError, Refusal, Table};
