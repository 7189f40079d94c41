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
mod kube;
mod list;
mod modify;
mod nat;
mod package;
mod watch;
