//! `ctctl events`.

use std::process::Stdio;

use nix::sys::signal::Signal;

use crate::harness::{entries, wait_until, Background, Netns};
use crate::require_root;

const ENTRY: [&str; 10] = [
    "-p", "tcp", "-s", "10.0.0.1", "-d", "10.0.0.2", "--sport", "1000", "--dport", "80",
];

fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l:?}: {e}")))
        .collect()
}

#[test]
fn create_update_delete_arrive_in_order_as_json() {
    require_root!();
    let ns = Netns::new();
    let mut bg = Background::start(
        &ns,
        &["-o", "json", "events", "--count", "3"],
        Stdio::piped(),
    );
    bg.wait_stderr("listening", 10);
    let mut create = vec!["-I"];
    create.extend_from_slice(&ENTRY);
    create.extend_from_slice(&["--state", "ESTABLISHED", "-t", "300"]);
    ns.conntrack(&create);
    let mut update = vec!["-U", "-m", "7"];
    update.extend_from_slice(&ENTRY);
    ns.conntrack(&update);
    let mut delete = vec!["-D"];
    delete.extend_from_slice(&ENTRY);
    ns.conntrack(&delete);
    let (out, code, err) = bg.finish(10);
    assert_eq!(code, Some(0), "{err:?}");
    let ev = json_lines(&out);
    let kinds: Vec<&str> = ev.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["new", "update", "destroy"]);
    for e in &ev {
        assert_eq!(e["orig"]["src"], "10.0.0.1");
        assert_eq!(e["orig"]["dport"], 80);
        assert_eq!(e["proto"], "tcp");
        assert!(e["time"].as_str().unwrap().ends_with('Z'));
        assert!(e["portid"].as_u64().unwrap() > 0, "caused by conntrack(8)");
    }
    assert_eq!(ev[0]["state"], "ESTABLISHED");
    assert_eq!(ev[1]["mark"], 7);
    assert!(err
        .iter()
        .any(|l| l.contains("3 events (new 1, update 1, destroy 1), 0 overruns")));
}

#[test]
fn text_lines_match_conntrack_e() {
    require_root!();
    let ns = Netns::new();
    let mut bg = Background::start(&ns, &["events", "--count", "2"], Stdio::piped());
    bg.wait_stderr("listening", 10);
    let mut create = vec!["-I"];
    create.extend_from_slice(&ENTRY);
    create.extend_from_slice(&["--state", "SYN_SENT", "-t", "120"]);
    ns.conntrack(&create);
    let mut delete = vec!["-D"];
    delete.extend_from_slice(&ENTRY);
    ns.conntrack(&delete);
    let (out, code, _) = bg.finish(10);
    assert_eq!(code, Some(0));
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with(
            "    [NEW] tcp      6 120 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=1000 dport=80 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=80 dport=1000 mark=0 [USERSPACE] portid="
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("[DESTROY] tcp      6 "),
        "{}",
        lines[1]
    );
}

#[test]
fn filters_select_events() {
    require_root!();
    let ns = Netns::new();
    let mut bg = Background::start(
        &ns,
        &[
            "-o", "json", "events", "-p", "udp", "--dport", "53", "-e", "new", "--count", "1",
        ],
        Stdio::piped(),
    );
    bg.wait_stderr("listening for new events", 10);
    ns.restore(
        "-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 53 --state ESTABLISHED -t 60\n\
         -I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 54 -t 60\n\
         -I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 2 --dport 53 -t 60\n",
    );
    let (out, code, _) = bg.finish(10);
    assert_eq!(code, Some(0));
    let ev = json_lines(&out);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["proto"], "udp");
    assert_eq!(ev[0]["orig"]["sport"], 2);
}

/// A tiny buffer and a storm while ctctl is stopped: it reports the
/// overrun, resyncs, and delivers the events that follow.
#[test]
fn overruns_are_reported_and_delivery_resumes() {
    require_root!();
    let ns = Netns::new();
    let mut bg = Background::start(
        &ns,
        &[
            "-o",
            "json",
            "events",
            "-e",
            "new",
            "--buffer-size",
            "8K",
            "--resync",
        ],
        Stdio::piped(),
    );
    bg.wait_stderr("listening", 10);
    bg.signal(Signal::SIGSTOP);
    let storm = entries(
        3000,
        "-I -p udp -s {ip} -d 10.2.0.1 --sport 1 --dport 53 -t 600",
    );
    ns.restore(&storm);
    bg.signal(Signal::SIGCONT);
    bg.wait_stderr("event overrun", 10);
    // Delivery resumes: a new event after the overrun arrives. An event
    // made while ctctl still drains the backlog can be dropped (and is
    // reported as another overrun), so try a few, each waited for.
    let resumed = (0..20).any(|i| {
        let ip = format!("10.9.9.{i}");
        ns.restore(&format!(
            "-I -p tcp -s {ip} -d 10.2.0.1 --sport 1 --dport 80 --state ESTABLISHED -t 600\n"
        ));
        let needle = format!("\"src\":\"{ip}\"");
        bg.try_wait_stdout(
            |l| l.contains("\"event\":\"new\"") && l.contains(&needle),
            std::time::Duration::from_secs(2),
        )
        .is_some()
    });
    assert!(resumed, "no new event delivered after the overrun");
    bg.signal(Signal::SIGTERM);
    let (out, code, err) = bg.finish(10);
    assert_eq!(code, Some(0), "{err:?}");
    let ev = json_lines(&out);
    let overruns = ev.iter().filter(|e| e["event"] == "overrun").count();
    assert!(overruns >= 1);
    assert!(ev
        .iter()
        .any(|e| e["event"] == "overrun" && e["overruns"] == 1));
    let resynced = ev.iter().filter(|e| e["event"] == "resync").count();
    assert!(
        resynced >= 3000,
        "the resync dump lists the table: {resynced}"
    );
    assert!(
        err.iter()
            .any(|l| l.contains("overruns") && l.contains("resynced")),
        "{err:?}"
    );
}

#[test]
fn sigterm_flushes_and_exits_zero() {
    require_root!();
    let ns = Netns::new();
    let mut bg = Background::start(&ns, &["events"], Stdio::piped());
    bg.wait_stderr("listening", 10);
    ns.restore("-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 53 -t 60\n");
    bg.signal(Signal::SIGTERM);
    let (out, code, err) = bg.finish(10);
    assert_eq!(code, Some(0));
    assert!(err.iter().any(|l| l.contains("events (new")), "{err:?}");
    // The event may or may not have been read before the signal; if it
    // was, it is on stdout whole.
    for line in out.lines() {
        assert!(line.contains("[NEW] udp"), "{line}");
    }
}

/// logrotate: move the file away, SIGHUP, new events land in a new file.
#[test]
fn output_file_survives_rotation() {
    require_root!();
    let ns = Netns::new();
    let dir = std::env::temp_dir().join(format!("ctctl-rotate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("events.log");
    let rotated = dir.join("events.log.1");
    let bg = crate::harness::events_to_file(&ns, &log);
    ns.restore("-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 53 -t 60\n");
    let contains = |p: &std::path::Path, s: &str| {
        std::fs::read_to_string(p)
            .map(|t| t.contains(s))
            .unwrap_or(false)
    };
    wait_until(|| contains(&log, "10.0.0.1"));
    std::fs::rename(&log, &rotated).unwrap();
    bg.signal(Signal::SIGHUP);
    wait_until(|| log.exists());
    ns.restore("-I -p udp -s 10.0.0.3 -d 10.0.0.2 --sport 1 --dport 53 -t 60\n");
    wait_until(|| contains(&log, "10.0.0.3"));
    bg.signal(Signal::SIGTERM);
    let (_, code, _) = bg.finish(10);
    assert_eq!(code, Some(0));
    assert!(contains(&rotated, "10.0.0.1") && !contains(&rotated, "10.0.0.3"));
    assert!(!contains(&log, "10.0.0.1"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The BPF socket filter drops unwanted events in the kernel: a storm of
/// TCP events does not overrun a tiny buffer when only UDP is wanted.
#[test]
fn bpf_prefilter_keeps_unwanted_events_out_of_the_buffer() {
    require_root!();
    let ns = Netns::new();
    let mut bg = Background::start(
        &ns,
        &["-o", "json", "events", "-p", "udp", "--buffer-size", "8K"],
        Stdio::piped(),
    );
    bg.wait_stderr("listening", 10);
    bg.signal(Signal::SIGSTOP);
    let storm = entries(
        3000,
        "-I -p tcp -s {ip} -d 10.2.0.1 --sport 1 --dport 80 --state ESTABLISHED -t 600",
    );
    ns.restore(&storm);
    ns.restore("-I -p udp -s 10.3.0.1 -d 10.2.0.1 --sport 1 --dport 53 -t 600\n");
    bg.signal(Signal::SIGCONT);
    bg.wait_stdout(|l| l.contains("10.3.0.1"), 10);
    bg.signal(Signal::SIGTERM);
    let (out, code, err) = bg.finish(10);
    assert_eq!(code, Some(0));
    assert!(!out.contains("\"tcp\""), "no TCP event gets through");
    assert!(
        err.iter()
            .any(|l| l.contains("1 events (new 1, update 0, destroy 0), 0 overruns")),
        "{err:?}"
    );
}
