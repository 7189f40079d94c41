//! Integration tests: one binary, each test in its own network namespace.

mod harness;

mod compat;
mod config;
mod count;
mod delete;
mod difftest;
mod errors;
mod events;
mod exact;
mod expect;
mod exporter;
mod filterset;
mod get;
mod hardening;
mod list;
mod modify;
mod package;
mod watch;
