//! The `ctctl` binary: parse arguments, run, map the result to an exit code.

use clap::Parser;

use ctctl::cli::{self, args::Cli, exit, Outcome};

fn main() {
    // Run as `conntrack` (a symlink or link to this binary): conntrack(8)'s
    // command line, messages and exit codes.
    let argv: Vec<String> = std::env::args().collect();
    let name = argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_default();
    if name == "conntrack" {
        std::process::exit(ctctl::compat::main(&argv[1..]));
    }
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_max_level(level)
        .with_target(false)
        .init();

    let code = match cli::run(cli) {
        Ok(Outcome::Ok) => exit::OK,
        Ok(Outcome::NotFound) => exit::NOT_FOUND,
        Ok(Outcome::Check(code)) => code,
        Err(err) => {
            let (code, msg) = exit::classify(&err);
            if let Some(msg) = msg {
                // Never panic on a closed stderr (panic = "abort").
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr(), "ctctl: {msg}");
            }
            code
        }
    };
    std::process::exit(code);
}
