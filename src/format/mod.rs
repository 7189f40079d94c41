//! Languages read and written: pure, no sockets, no files.
//!
//! - [`text`]: conntrack's `-L` lines (and `-o extended`);
//! - [`json`]: the JSON Lines schema (docs/json-schema.md: a stability contract);
//! - [`save`]: conntrack's `-o save` lines; [`xml`]: its `-o xml`;
//! - [`expect`]: expectations, as text and JSON;
//! - [`connlabel`]: the file that names connection labels;
//! - [`render`]: a flow into a record of the chosen [`render::Format`];
//! - [`record`]: what an event record says beyond the entry, and the time;
//! - [`number`]: numbers for people;
//! - [`conntrack8`]: conntrack(8)'s command line, read as conntrack 1.4.7 reads it.
//!
//! What does not belong here: writing to a file or a terminal (`stdio/`),
//! and deciding what to print (the faces).

pub mod connlabel;
pub mod conntrack8;
pub mod expect;
pub mod json;
pub mod number;
pub mod record;
pub mod render;
pub mod save;
pub mod text;
pub mod xml;
