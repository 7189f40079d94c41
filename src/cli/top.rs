//! `ctctl top`: the incident screen, live. Table fill, entries per state,
//! the busiest sources, destinations and ports (by entries and by new
//! connections per second), drops per second, and the next command to
//! consider, redrawn every second from the same event-kept counters as the
//! exporter ([`crate::live`]): no dump per frame. Fits 80×24; `q` quits;
//! `--once` prints one frame and exits.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use ctctl_netlink::stats::CpuStats;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Gauge, Paragraph, Widget};

use super::args::{Cli, TopArgs};
use super::Outcome;
use crate::flow::{family_name, proto_name};
use crate::format::number::thousands;
use crate::live::{Live, LiveOptions, Snapshot};
use crate::tune::recommend::{self, Inputs};
use crate::tune::{read_u64, Paths};

/// Per-second rates of the counters that mean trouble.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Trouble {
    drop: f64,
    early_drop: f64,
    insert_failed: f64,
}

fn rates(prev: &CpuStats, now: &CpuStats, secs: f64) -> Trouble {
    let r = |a: u32, b: u32| f64::from(b.saturating_sub(a)) / secs.max(0.001);
    Trouble {
        drop: r(prev.drop, now.drop),
        early_drop: r(prev.early_drop, now.early_drop),
        insert_failed: r(prev.insert_failed, now.insert_failed),
    }
}

/// What the screen shows besides the snapshot.
struct Frame<'a> {
    netns: &'a str,
    snap: &'a Snapshot,
    trouble: Trouble,
    buckets: Option<u64>,
    advice: String,
}

impl<'a> Frame<'a> {
    fn new(
        netns: &'a str,
        snap: &'a Snapshot,
        trouble: Trouble,
        buckets: Option<u64>,
        mem: Option<u64>,
    ) -> Frame<'a> {
        Frame {
            netns,
            snap,
            trouble,
            buckets,
            advice: advice(snap, buckets, mem, trouble),
        }
    }
}

/// The next command to consider, by the sizing rules of `config
/// recommend` (bucket depth 2-8, about 320 bytes per entry) and what fills
/// the table.
fn advice(s: &Snapshot, buckets: Option<u64>, mem: Option<u64>, t: Trouble) -> String {
    let util = if s.max > 0 {
        s.kernel_count as f64 * 100.0 / s.max as f64
    } else {
        0.0
    };
    if util >= 80.0 || t.drop > 0.0 || t.early_drop > 0.0 {
        if let Some(mem) = mem {
            let i = Inputs {
                mem_bytes: mem,
                count: s.kernel_count,
                peak: s.kernel_count,
                max: s.max,
                hashsize: buckets.unwrap_or(0),
                depth: 4,
            };
            let set: Vec<String> = recommend::sizing(&i)
                .iter()
                .filter(|a| a.changes())
                .map(|a| format!("{}={}", a.key, a.suggested))
                .collect();
            if !set.is_empty() {
                return format!("ctctl config set {}", set.join(" "));
            }
        }
    }
    let total: u64 = s.by_state.iter().map(|(_, n)| n).sum();
    if let Some((k, n)) = s.by_state.first() {
        let share = *n as f64 * 100.0 / total.max(1) as f64;
        if util >= 20.0 && share >= 50.0 {
            return match k.state {
                "ESTABLISHED" => {
                    "ctctl delete --state ESTABLISHED --idle-over 6h --dry-run  (orphans of lost RSTs)"
                        .to_string()
                }
                "TIME_WAIT" => "ctctl config set timeout.tcp.time_wait=30  (TIME_WAIT fills the table)"
                    .to_string(),
                "SYN_SENT" | "SYN_RECV" => format!(
                    "ctctl delete --state {} --dry-run  (half-open: a scan or a SYN flood?)",
                    k.state
                ),
                _ if k.proto == 17 => "ctctl config set timeout.udp.stream=60  (UDP fills the table)"
                    .to_string(),
                _ => "ctctl count --by src --top 10".to_string(),
            };
        }
    }
    if let Some(u) = s.snat.iter().find(|u| u.utilization >= 0.8) {
        return format!(
            "ctctl nat  (SNAT {} has used {:.0}% of its ports toward one destination)",
            u.snat
                .map_or_else(|| "other".to_string(), |a| a.to_string()),
            u.utilization * 100.0
        );
    }
    if let Some(b) = buckets {
        let depth = s.max as f64 / b.max(1) as f64;
        if depth > 8.0 {
            return format!(
                "ctctl config set hashsize={}  (a full table would average {depth:.0} entries per bucket)",
                (s.max / 4).next_power_of_two()
            );
        }
    }
    "nothing to do".to_string()
}

fn draw(f: &Frame<'_>, area: Rect, buf: &mut Buffer) {
    let s = f.snap;
    let [head, gauge, rates_row, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(8),
        Constraint::Length(2),
    ])
    .areas(area);
    Paragraph::new(Line::from(format!(
        "ctctl top — netns {} — {} entries tracked, {} resyncs   q quits",
        f.netns,
        thousands(s.tracked),
        s.resyncs
    )))
    .style(Style::default().add_modifier(Modifier::BOLD))
    .render(head, buf);
    let ratio = if s.max > 0 {
        (s.kernel_count as f64 / s.max as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let depth = f
        .buckets
        .map(|b| format!(", depth {:.1}", s.kernel_count as f64 / b.max(1) as f64))
        .unwrap_or_default();
    Gauge::default()
        .ratio(ratio)
        .label(format!(
            "table {} / {} ({:.1}%){depth}",
            thousands(s.kernel_count),
            thousands(s.max),
            ratio * 100.0
        ))
        .render(gauge, buf);
    Paragraph::new(Line::from(format!(
        "drop/s {:.0}  early_drop/s {:.0}  insert_failed/s {:.0}   events new {} upd {} del {} overruns {}",
        f.trouble.drop,
        f.trouble.early_drop,
        f.trouble.insert_failed,
        thousands(s.events[0]),
        thousands(s.events[1]),
        thousands(s.events[2]),
        s.overruns
    )))
    .render(rates_row, buf);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
    let [states, dsts] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(left);
    let [srcs, ports, nat] = Layout::vertical([
        Constraint::Percentage(40),
        Constraint::Percentage(30),
        Constraint::Percentage(30),
    ])
    .areas(right);
    let total: u64 = s.by_state.iter().map(|(_, n)| n).sum();
    let state_lines: Vec<Line> = s
        .by_state
        .iter()
        .map(|(k, n)| {
            Line::from(format!(
                "{:<4} {:<7} {:<11} {:>9} {:>3.0}%",
                family_name(k.family).trim_start_matches("ip"),
                proto_name(k.proto),
                k.state,
                thousands(*n),
                *n as f64 * 100.0 / total.max(1) as f64
            ))
        })
        .collect();
    Paragraph::new(state_lines)
        .block(Block::default().borders(Borders::TOP).title("states"))
        .render(states, buf);
    let ranked = |entries: &[(String, u64)], rates: &[(String, f64)]| -> Vec<Line<'static>> {
        entries
            .iter()
            .map(|(k, n)| {
                let r = rates.iter().find(|(x, _)| x == k).map_or(0.0, |(_, r)| *r);
                Line::from(format!("{k:<24} {:>9} {r:>6.1}/s", thousands(*n)))
            })
            .collect()
    };
    let ips = |t: &crate::live::Top<std::net::IpAddr, u64>| -> Vec<(String, u64)> {
        t.top.iter().map(|(ip, n)| (ip.to_string(), *n)).collect()
    };
    let ip_rates = |t: &crate::live::Top<std::net::IpAddr, f64>| -> Vec<(String, f64)> {
        t.top.iter().map(|(ip, n)| (ip.to_string(), *n)).collect()
    };
    let port = |(p, d): &(u8, u16)| format!("{}/{}", proto_name(*p), d);
    Paragraph::new(ranked(&ips(&s.top_src), &ip_rates(&s.new_src)))
        .block(
            Block::default()
                .borders(Borders::TOP)
                .title("sources: entries, new/s"),
        )
        .render(srcs, buf);
    Paragraph::new(ranked(&ips(&s.top_dst), &ip_rates(&s.new_dst)))
        .block(Block::default().borders(Borders::TOP).title("destinations"))
        .render(dsts, buf);
    let port_entries: Vec<(String, u64)> =
        s.top_dport.top.iter().map(|(k, n)| (port(k), *n)).collect();
    let port_rates: Vec<(String, f64)> =
        s.new_dport.top.iter().map(|(k, n)| (port(k), *n)).collect();
    Paragraph::new(ranked(&port_entries, &port_rates))
        .block(
            Block::default()
                .borders(Borders::TOP)
                .title("destination ports"),
        )
        .render(ports, buf);
    let nat_lines: Vec<Line> = s
        .snat
        .iter()
        .map(|u| {
            Line::from(format!(
                "{:<24} {:<4} {:>9} {:>5.1}%",
                u.snat
                    .map_or_else(|| "other".to_string(), |a| a.to_string()),
                proto_name(u.proto),
                thousands(u.entries),
                u.utilization * 100.0
            ))
        })
        .collect();
    Paragraph::new(nat_lines)
        .block(
            Block::default()
                .borders(Borders::TOP)
                .title("source NAT: entries, fullest destination"),
        )
        .render(nat, buf);
    Paragraph::new(vec![
        Line::from(""),
        Line::from(format!("next: {}", f.advice)),
    ])
    .render(foot, buf);
}

/// A buffer's text, one line per row, trailing blanks trimmed.
fn buffer_text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        for x in area.left()..area.right() {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `ctctl top`.
pub fn run(cli: &Cli, a: &TopArgs) -> anyhow::Result<Outcome> {
    let live = Live::start(
        None,
        LiveOptions {
            rankings: crate::live::Rankings::ALL,
            top: a.top,
            ..LiveOptions::default()
        },
    )?;
    let paths = Paths::system();
    let buckets = read_u64(&paths.netfilter("nf_conntrack_buckets"))
        .ok()
        .flatten()
        .or_else(|| read_u64(&paths.hashsize()).ok().flatten());
    let mem = std::fs::read_to_string(&paths.meminfo)
        .ok()
        .and_then(|m| recommend::mem_total(&m));
    let netns = cli.netns.first().map_or("self", String::as_str);
    let mut prev = (Instant::now(), live.snapshot(a.top).stats);
    // A snapshot, and the trouble counters' rates since the previous one.
    let mut sample = || {
        let snap = live.snapshot(a.top);
        let trouble = rates(&prev.1, &snap.stats, prev.0.elapsed().as_secs_f64());
        prev = (Instant::now(), snap.stats);
        (snap, trouble)
    };
    if a.once {
        // Two samples an interval apart, so the per-second figures mean something.
        std::thread::sleep(a.interval);
        let (snap, trouble) = sample();
        let f = Frame::new(netns, &snap, trouble, buckets, mem);
        let area = Rect::new(0, 0, 80, 24);
        let mut buf = Buffer::empty(area);
        draw(&f, area, &mut buf);
        let mut out = std::io::stdout().lock();
        out.write_all(buffer_text(&buf).as_bytes())?;
        out.flush()?;
        return Ok(Outcome::Ok);
    }
    let mut terminal = ratatui::try_init().context("cannot drive this terminal")?;
    let result = (|| -> anyhow::Result<()> {
        loop {
            let (snap, trouble) = sample();
            let f = Frame::new(netns, &snap, trouble, buckets, mem);
            terminal.draw(|fr| draw(&f, fr.area(), fr.buffer_mut()))?;
            let until = Instant::now() + a.interval;
            while let Some(left) = until.checked_duration_since(Instant::now()) {
                if ratatui::crossterm::event::poll(left.min(Duration::from_millis(250)))? {
                    if let ratatui::crossterm::event::Event::Key(k) =
                        ratatui::crossterm::event::read()?
                    {
                        use ratatui::crossterm::event::{KeyCode, KeyModifiers};
                        let ctrl_c = k.code == KeyCode::Char('c')
                            && k.modifiers.contains(KeyModifiers::CONTROL);
                        if k.code == KeyCode::Char('q') || k.code == KeyCode::Esc || ctrl_c {
                            return Ok(());
                        }
                    }
                }
            }
        }
    })();
    ratatui::restore();
    result?;
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::StateKey;

    #[test]
    fn advice_follows_the_sizing_rules_and_what_fills_the_table() {
        let mut s = Snapshot {
            kernel_count: 90_000,
            max: 100_000,
            ..Snapshot::default()
        };
        let a = advice(&s, Some(25_000), Some(8 << 30), Trouble::default());
        assert!(a.starts_with("ctctl config set max="), "{a}");
        s.kernel_count = 30_000;
        s.by_state = vec![(
            StateKey {
                family: 2,
                proto: 6,
                state: "ESTABLISHED",
            },
            29_000,
        )];
        let a = advice(&s, Some(25_000), Some(8 << 30), Trouble::default());
        assert!(a.contains("--idle-over"), "{a}");
        s.kernel_count = 10;
        assert_eq!(
            advice(&s, Some(25_000), Some(8 << 30), Trouble::default()),
            "nothing to do"
        );
    }

    #[test]
    fn a_frame_fits_80_by_24() {
        let s = Snapshot {
            kernel_count: 5,
            max: 100,
            tracked: 5,
            ..Snapshot::default()
        };
        let f = Frame {
            netns: "self",
            snap: &s,
            trouble: Trouble::default(),
            buckets: Some(64),
            advice: "nothing to do".into(),
        };
        let area = Rect::new(0, 0, 80, 24);
        let mut buf = Buffer::empty(area);
        draw(&f, area, &mut buf);
        let text = buffer_text(&buf);
        assert_eq!(text.lines().count(), 24);
        assert!(text.contains("table 5 / 100 (5.0%)"), "{text}");
        assert!(text.contains("next: nothing to do"), "{text}");
    }
}
