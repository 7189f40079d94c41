//! The command-line tool: argument structs, renderers and the commands.
//! `main.rs` only parses arguments, calls [`run`] and exits with the code
//! [`exit::classify`] picks.

pub mod args;
pub mod config;
pub mod count;
pub mod delete;
pub mod docs;
pub mod events;
pub mod exit;
pub mod expect;
pub mod exporter;
pub mod modify;
pub mod nat;
pub mod select;
pub mod status;
pub mod top;

use std::ops::ControlFlow;

use crate::conntrack::Conntrack;
use crate::format::render::Render;
use crate::netns;
use crate::stdio::out::Out;
use args::{Cli, Command, Format, GetArgs, ListArgs};

/// How a command ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1: nothing matched where a match was asked for.
    NotFound,
    /// `status --check`: the Nagios code (0 ok, 1 warning, 2 critical).
    Check(i32),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match &cli.command {
        Command::Completions(a) => return docs::completions(a),
        Command::Manpages(a) => return docs::manpages(a),
        _ => {}
    }
    if let Command::Exporter(a) = &cli.command {
        // One table per namespace, each entered on a thread of its own.
        return exporter::run(&cli, a);
    }
    if cli.netns.len() > 1 {
        anyhow::bail!("--netns is given once (only `exporter` watches several namespaces)");
    }
    if let Some(ns) = cli.netns.first() {
        // Before any thread or socket exists, so everything below (sockets,
        // /proc/sys/net) is in that namespace.
        netns::enter(ns)?;
    }
    match &cli.command {
        Command::List(a) => list(&cli, a),
        Command::Get(a) => get(&cli, a),
        Command::Count(a) => count::run(&cli, a),
        Command::Nat(a) => nat::run(&cli, a),
        Command::Delete(a) => delete::run(&cli, a, false),
        Command::Flush(a) => delete::run(&cli, a, true),
        Command::Events(a) => events::run(&cli, a),
        Command::Config(a) => config::run(&cli, a),
        Command::Status(a) => status::status(&cli, a),
        Command::Stats => status::stats(&cli),
        Command::Create(a) => modify::create(&cli, a),
        Command::Update(a) => modify::update(&cli, a),
        Command::Save(a) => modify::save(&cli, a),
        Command::Restore(a) => modify::restore(&cli, a),
        Command::Wait(a) => modify::wait(&cli, a),
        Command::Probe(a) => status::probe(&cli, a.all),
        Command::Exporter(_) => unreachable!("handled above"),
        Command::Top(a) => top::run(&cli, a),
        Command::Expect(c) => expect::run(&cli, c),
        Command::Completions(_) | Command::Manpages(_) => unreachable!("handled above"),
    }
}

/// The summary of a batch of deletes, creates or updates: on stderr
/// (`deleted 49,998 entries (2 already gone)`), or with `-o json` one
/// object on stdout (`{"deleted":49998,"already_gone":2,"failed":0}`, plus
/// `"method"` when given).
pub fn report_batch(
    cli: &Cli,
    s: &crate::batch::BatchStats,
    verb: &str,
    skipped: &str,
    method: Option<&str>,
    lines: &[(usize, u64)],
) -> anyhow::Result<()> {
    if cli.output == Format::Json {
        let mut out = Out::stdout();
        let b = out.buf();
        b.extend_from_slice(
            format!(
                "{{\"{verb}\":{},\"{skipped}\":{},\"failed\":{}",
                s.done, s.skipped, s.failed
            )
            .as_bytes(),
        );
        if let Some(m) = method {
            b.extend_from_slice(b",\"method\":");
            crate::format::json::string(b, m);
        }
        if !lines.is_empty() {
            // --filters-from: how many entries each line matched (an entry
            // that matches several lines counts for each).
            b.extend_from_slice(b",\"lines\":[");
            for (i, (line, n)) in lines.iter().enumerate() {
                if i > 0 {
                    b.push(b',');
                }
                b.extend_from_slice(format!("{{\"line\":{line},\"matched\":{n}}}").as_bytes());
            }
            b.push(b']');
        }
        b.push(b'}');
        out.line_done()?;
        out.flush()?;
    } else {
        let mut notes = Vec::new();
        if s.skipped > 0 {
            notes.push(format!(
                "{} {}",
                crate::format::number::thousands(s.skipped),
                skipped.replace('_', " ")
            ));
        }
        if s.failed > 0 {
            notes.push(format!(
                "{} failed",
                crate::format::number::thousands(s.failed)
            ));
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join(", "))
        };
        eprintln!(
            "ctctl: {verb} {} entries{notes}",
            crate::format::number::thousands(s.done)
        );
    }
    Ok(())
}

fn list(cli: &Cli, a: &ListArgs) -> anyhow::Result<Outcome> {
    let filter = select::selector(&a.filter)?;
    let mut ct = Conntrack::open()?;
    let render = Render::new(cli.output, a.show_id).with_names(crate::labels::LabelMap::system());
    let mut out = Out::stdout();
    let table = match a.table {
        args::TableArg::Conntrack => crate::conntrack::Table::Conntrack,
        args::TableArg::Dying => crate::conntrack::Table::Dying,
        args::TableArg::Unconfirmed => crate::conntrack::Table::Unconfirmed,
    };
    ct.stream_table(table, &filter, |f| -> anyhow::Result<ControlFlow<()>> {
        render.flow(out.buf(), f, None);
        out.line_done()?;
        Ok(ControlFlow::Continue(()))
    })?;
    out.flush()?;
    warn_untrusted(&ct);
    Ok(Outcome::Ok)
}

/// After a dump: says on stderr when the kernel marked it interrupted, or
/// when datagrams that did not come from the kernel were dropped.
pub fn warn_untrusted(ct: &Conntrack) {
    if ct.dump_interrupted() {
        eprintln!(
            "ctctl: warning: the kernel marked the dump interrupted (NLM_F_DUMP_INTR): \
             entries that changed meanwhile may be missing or shown twice; run it again"
        );
    }
    let foreign = ct.foreign_dropped();
    if foreign > 0 {
        eprintln!(
            "ctctl: warning: dropped {foreign} netlink datagrams that did not come from the \
             kernel (another process wrote to ctctl's socket)"
        );
    }
}

fn get(cli: &Cli, a: &GetArgs) -> anyhow::Result<Outcome> {
    let found = match (a.src, a.dst, a.reply_src, a.reply_dst) {
        (Some(s), Some(d), _, _) => {
            let t = args::complete_tuple(
                a.proto,
                (s, d),
                (a.l4.sport, a.l4.dport),
                &a.l4.icmp,
                ("--src", "--dst", "--sport", "--dport"),
            )
            .map_err(anyhow::Error::msg)?;
            Conntrack::open()?.get(&t, a.zone)?
        }
        (_, _, Some(s), Some(d)) => {
            let t = args::complete_tuple(
                a.proto,
                (s, d),
                (a.reply_sport, a.reply_dport),
                &a.l4.icmp,
                (
                    "--reply-src",
                    "--reply-dst",
                    "--reply-port-src",
                    "--reply-port-dst",
                ),
            )
            .map_err(anyhow::Error::msg)?;
            Conntrack::open()?.get_by_reply(&t, a.zone)?
        }
        _ => {
            anyhow::bail!("name the entry by its original tuple (-s -d) or its reply tuple (-r -q)")
        }
    };
    match found {
        Some(f) => {
            let mut out = Out::stdout();
            Render::new(cli.output, a.show_id)
                .with_names(crate::labels::LabelMap::system())
                .flow(out.buf(), &f, None);
            out.line_done()?;
            out.flush()?;
            Ok(Outcome::Ok)
        }
        None => {
            eprintln!("ctctl: not found");
            Ok(Outcome::NotFound)
        }
    }
}
