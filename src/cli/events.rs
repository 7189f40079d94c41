//! `ctctl events`: stream conntrack events into logs, without losing its
//! place and without dying on overruns.

use std::fs::{File, OpenOptions};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use ctctl_netlink::conntrack::EventKind;
use ctctl_netlink::Socket;

use super::args::{Cli, EventType, EventsArgs, Format};
use super::Outcome;
use crate::conntrack::Conntrack;
use crate::events::{EventOptions, EventStream};
use crate::format::json;
use crate::format::number::thousands;
use crate::format::record::now_ns;
use crate::format::record::EventTag;
use crate::format::render::Render;
use crate::format::text;
use crate::stdio::out::Out;
use crate::stdio::signals;

/// Overrun warnings on stderr: at most one per this interval.
const WARN_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct Totals {
    new: u64,
    update: u64,
    destroy: u64,
    overruns: u64,
    resynced: u64,
    resyncs_skipped: u64,
}

impl Totals {
    fn events(&self) -> u64 {
        self.new + self.update + self.destroy
    }
}

/// How often a failed reopen of `--output-file` is tried again (and warned about).
const REOPEN_EVERY: Duration = Duration::from_secs(60);

/// Opens the event log for appending: created with `mode` (the connection
/// log is not for everyone), never through a symlink (`O_NOFOLLOW`: a link
/// planted in a log directory cannot redirect a root process's writes),
/// `O_APPEND` so concurrent writers and rotation keep whole lines,
/// `O_CLOEXEC`.
pub fn open_append(path: &Path, mode: u32) -> anyhow::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                anyhow::anyhow!(
                    "cannot open {}: it is a symbolic link, which ctctl does not follow \
                     for its log; give the real path",
                    path.display()
                )
            } else {
                anyhow::Error::new(e)
                    .context(format!("cannot open {} for appending", path.display()))
            }
        })
}

/// `ctctl events`.
pub fn run(cli: &Cli, a: &EventsArgs) -> anyhow::Result<Outcome> {
    let filter = super::select::single(&a.filter, "events")?;
    let all = a.events.is_empty() || a.events.contains(&EventType::All);
    let opts = EventOptions {
        new: all || a.events.contains(&EventType::New),
        update: all || a.events.contains(&EventType::Update),
        destroy: all || a.events.contains(&EventType::Destroy),
        buffer_size: a.buffer_size,
        reliable: a.reliable,
    };
    let mut out = match &a.output_file {
        Some(path) => Out::to_file(open_append(path, a.file_mode)?),
        None => Out::stdout(),
    };
    signals::install().context("installing signal handlers")?;
    let mut stream = EventStream::subscribe(Socket::open()?, &opts, &filter)?;
    let rb = stream.rcvbuf();
    if !rb.forced && rb.granted < rb.requested {
        eprintln!(
            "ctctl: warning: receive buffer capped at {} bytes (net.core.rmem_max); \
             events may be lost in storms: run with CAP_NET_ADMIN or raise rmem_max",
            rb.granted
        );
    }

    // Tells people and scripts (and the tests) that nothing from here on is missed.
    eprintln!(
        "ctctl: listening for {} events (receive buffer {} bytes{})",
        [
            (opts.new, "new"),
            (opts.update, "update"),
            (opts.destroy, "destroy")
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(", "),
        rb.granted / 2,
        if a.reliable { ", reliable" } else { "" }
    );

    // With nf_conntrack_events=2 (the default), entries created while nobody
    // listened carry no event extension and never report updates or their
    // destruction.
    if opts.update || opts.destroy {
        let events =
            crate::tune::read_u64(&crate::tune::Paths::system().netfilter("nf_conntrack_events"));
        if let Ok(Some(2)) = events {
            eprintln!(
                "ctctl: note: nf_conntrack_events=2: entries created before now report no update \
                 or destroy events (`ctctl config set events=1` makes every entry report them)"
            );
        }
    }

    let render = Render::new(cli.output, a.show_id).with_names(crate::labels::LabelMap::system());
    let json_out = cli.output == Format::Json;
    let deadline = a.duration.map(|d| Instant::now() + d);
    let mut totals = Totals::default();
    let mut last_warn: Option<Instant> = None;
    let mut write_error: Option<std::io::Error> = None;
    // A reopen that failed: when it was last tried.
    let mut reopen_failed: Option<Instant> = None;
    let mut last_resync: Option<Instant> = None;

    'run: loop {
        if signals::terminated() {
            break;
        }
        let hangup = signals::take_hangup();
        let retry = reopen_failed.is_some_and(|t| t.elapsed() >= REOPEN_EVERY);
        if let (true, Some(path)) = (hangup || retry, &a.output_file) {
            // logrotate moved the file away: write to a new one there. If
            // that fails, keep writing to the open file (nothing is lost)
            // and try again, warning, once a minute.
            match open_append(path, a.file_mode) {
                Ok(f) => {
                    out.switch_to(f)?;
                    reopen_failed = None;
                }
                Err(e) => {
                    eprintln!("ctctl: warning: {e:#}; still writing to the file opened before");
                    reopen_failed = Some(Instant::now());
                }
            }
        }
        let timeout = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                Some(left)
            }
            None => None,
        };
        let timeout = Some(timeout.map_or(crate::stdio::signals::SIGNAL_TICK, |t| {
            t.min(crate::stdio::signals::SIGNAL_TICK)
        }));
        let recv_time = now_ns();
        let polled = stream.poll(timeout, |ev| {
            if write_error.is_some() || a.count.is_some_and(|n| totals.events() >= n) {
                return;
            }
            if !filter.matches(&ev.flow) {
                return;
            }
            match ev.kind {
                EventKind::New => totals.new += 1,
                EventKind::Update => totals.update += 1,
                EventKind::Destroy => totals.destroy += 1,
            }
            let time = ev.flow.event_time.unwrap_or(recv_time);
            let tag = EventTag::of(ev.kind, time, ev.portid);
            if a.timestamp && !json_out {
                crate::format::text::timestamp_prefix(out.buf(), time);
            }
            render.flow(out.buf(), &ev.flow, Some(&tag));
            if let Err(e) = out.line_done() {
                write_error = Some(e);
            }
        })?;
        if let Some(e) = write_error.take() {
            return Err(e.into());
        }
        if polled.overrun {
            totals.overruns += 1;
            if last_warn.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                eprintln!(
                    "ctctl: event overrun: the kernel dropped events ({} overruns so far); \
                     raise --buffer-size or narrow the filters",
                    thousands(totals.overruns)
                );
                last_warn = Some(Instant::now());
            }
            if json_out {
                let b = out.buf();
                b.extend_from_slice(b"{\"time\":\"");
                json::write_rfc3339(b, now_ns());
                b.extend_from_slice(b"\",\"event\":\"overrun\",\"overruns\":");
                text::num(b, totals.overruns);
                b.push(b'}');
                out.line_done()?;
            }
            if a.resync {
                // Under a sustained storm every poll overruns: one resync
                // per --resync-interval, not back-to-back full dumps.
                match last_resync {
                    Some(t) if t.elapsed() < a.resync_interval => {
                        totals.resyncs_skipped += 1;
                        if last_warn.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                            eprintln!(
                                "ctctl: resync skipped: the last one was {:.1} s ago \
                                 (--resync-interval {:?}); {} skipped so far",
                                t.elapsed().as_secs_f64(),
                                a.resync_interval,
                                thousands(totals.resyncs_skipped)
                            );
                            last_warn = Some(Instant::now());
                        }
                    }
                    _ => {
                        last_resync = Some(Instant::now());
                        totals.resynced += resync(&render, &mut out, &filter)?;
                    }
                }
            }
        }
        if polled.truncated > 0 {
            tracing::warn!(
                n = polled.truncated,
                "skipped events too large for the buffer"
            );
        }
        // Nothing more queued: write out now, for low latency when quiet.
        if polled.received < crate::events::BATCH {
            out.flush()?;
        }
        if a.count.is_some_and(|n| totals.events() >= n) {
            break 'run;
        }
    }
    out.flush()?;
    eprintln!(
        "ctctl: {} events (new {}, update {}, destroy {}), {} overruns{}",
        thousands(totals.events()),
        thousands(totals.new),
        thousands(totals.update),
        thousands(totals.destroy),
        thousands(totals.overruns),
        if a.resync {
            format!(", {} entries resynced", thousands(totals.resynced))
        } else {
            String::new()
        }
    );
    Ok(Outcome::Ok)
}

/// After an overrun: the table as it is now, so consumers can reconcile.
fn resync(
    render: &Render,
    out: &mut Out,
    filter: &crate::select::filter::Filter,
) -> anyhow::Result<u64> {
    let mut ct = Conntrack::open()?;
    let mut n = 0;
    let tag = EventTag::resync(now_ns());
    ct.try_stream(filter, |f| -> anyhow::Result<ControlFlow<()>> {
        render.flow(out.buf(), f, Some(&tag));
        out.line_done()?;
        n += 1;
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(n)
}
