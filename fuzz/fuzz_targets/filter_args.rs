//! The command line's filter flags and value parsers on arbitrary
//! arguments: a value either parses, or is a usage error naming its flag.
#![no_main]

use clap::Parser;
use ctctl::cli::args::{Cli, Command};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = ctctl::select::criteria::Cidr::parse(text);
    let _ = ctctl::select::values::parse_mark(text);
    let _ = ctctl::select::values::parse_duration(text);
    let _ = ctctl::select::criteria::StatusMatch::parse(text);
    let _ = ctctl::select::criteria::StateMatch::parse(text, None);
    let _ = ctctl::cli::args::parse_size(text);
    let _ = ctctl::cli::args::parse_wait(text);
    // NUL-separated words after `ctctl list`.
    let args = std::iter::once("ctctl")
        .chain(std::iter::once("list"))
        .chain(text.split('\0'));
    if let Ok(cli) = Cli::try_parse_from(args) {
        if let Command::List(a) = cli.command {
            if let Ok(f) = a.filter.parse() {
                let _ = f.kernel_plan(ctctl::select::plan::Criteria::ALL);
                let _ = f.single_tuple();
                let _ = f.selects_everything();
            }
        }
    }
});
