//! Watching the table: `ctctl exporter` scraped by a real Prometheus,
//! `ctctl top` in a real terminal (tmux), and `status --check` on rates.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{which, Background, Netns};
use crate::require_root;

/// `GET path` on 127.0.0.1:port inside the namespace; the body, or `None`
/// when nothing answers (yet).
pub(crate) fn http_get(
    ns: &Netns,
    port: u16,
    path: &str,
    accept: &str,
) -> Option<(String, String)> {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    );
    ns.run(move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(req.as_bytes()).ok()?;
        let mut resp = String::new();
        s.read_to_string(&mut resp).ok()?;
        let (head, body) = resp.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.")
            .then(|| (head.to_string(), body.to_string()))
    })
}

/// Polls `f` until it returns `Some`, for at most `secs`.
pub(crate) fn within<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A Prometheus server in the namespace, stopped on drop.
pub(crate) struct Prometheus {
    child: Child,
    dir: std::path::PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn prometheus(ns: &Netns, target: &str) -> Prometheus {
    let dir = std::env::temp_dir().join(format!("ctctl-prom-{}-{}", std::process::id(), ns.name));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: ctctl\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let child = Command::new("ip")
        .args(["netns", "exec", &ns.name, "prometheus"])
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg("--web.listen-address=127.0.0.1:9090")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    Prometheus { child, dir }
}

/// The value of an instant query, when Prometheus has one.
/// An instant query's whole answer (JSON), when Prometheus answers.
pub(crate) fn query_json(ns: &Netns, q: &str) -> Option<serde_json::Value> {
    let enc: String = q
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (_, body) = http_get(ns, 9090, &format!("/api/v1/query?query={enc}"), "*/*")?;
    serde_json::from_str(&body).ok()
}

pub(crate) fn query(ns: &Netns, q: &str) -> Option<f64> {
    let v = query_json(ns, q)?;
    let r = v["data"]["result"].as_array()?;
    r.first()?["value"][1].as_str()?.parse().ok()
}

pub(crate) fn needs(tool: &str) -> bool {
    if which(tool).is_some() {
        return true;
    }
    let why = format!("needs `{tool}` (scripts/test.sh installs it)");
    if crate::harness::require_root() {
        panic!("{why} (CTCTL_REQUIRE_ROOT=1)");
    }
    eprintln!("SKIPPED: {why}");
    false
}

#[test]
fn prometheus_scrapes_the_exporter_and_the_gauges_follow_the_table() {
    require_root!();
    if !needs("prometheus") || !needs("promtool") {
        return;
    }
    let ns = Netns::new();
    // Entries that exist before the exporter starts: counted by its first
    // dump. With nf_conntrack_events=2 (the default) an entry made while
    // no event listener existed on the host has no event cache and dies
    // without an event; whether these have one depends on what else runs
    // on the host (other tests' listeners), so either way must do.
    ns.restore(&crate::harness::entries(
        50,
        "-I -p tcp -s {ip} -d 10.9.0.1 --sport 1 --dport 80 --state TIME_WAIT -t 600",
    ));
    // Inside the namespace: it watches its own table and serves there.
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &ns.name])
        .arg(crate::harness::ctctl_bin())
        .args(["exporter", "--listen", "127.0.0.1:9371", "--top", "3"]);
    let mut exporter = Background::spawn(cmd, Stdio::null());
    exporter.wait_stderr("exporter listening", 20);

    // The exposition is valid (promtool) in both formats.
    let (head, text) = http_get(&ns, 9371, "/metrics", "text/plain").unwrap();
    assert!(head.contains("version=0.0.4"), "{head}");
    let mut lint = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    lint.stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = lint.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "conntrack_entries{netns=\"self\"} 50",
        "conntrack_entries_by_state{netns=\"self\",family=\"ipv4\",proto=\"tcp\",state=\"TIME_WAIT\"} 50",
        "conntrack_stat_drop_total{netns=\"self\"}",
        "conntrack_events_total{netns=\"self\",type=\"new\"}",
        "conntrack_top_source_entries{netns=\"self\",src=\"other\"} 47",
        "conntrack_kernel_filter_shapes{op=\"flush\",result=\"proved\"}",
        "conntrack_expectations{netns=\"self\"} 0",
        "conntrack_expect_stat_total{netns=\"self\",type=\"create\"}",
    ] {
        assert!(text.contains(name), "missing {name} in:\n{text}");
    }
    let (head, om) = http_get(&ns, 9371, "/metrics", "application/openmetrics-text").unwrap();
    assert!(head.contains("openmetrics"), "{head}");
    assert!(om.trim_end().ends_with("# EOF"));

    let _prom = prometheus(&ns, "127.0.0.1:9371");
    let up = within(30, "prometheus scrapes the exporter", || {
        query(&ns, "up{job=\"ctctl\"}").filter(|v| *v == 1.0)
    });
    assert_eq!(up, 1.0);
    within(10, "prometheus sees 50 entries", || {
        query(&ns, "conntrack_entries").filter(|v| *v == 50.0)
    });

    // New entries: followed from events, their destruction too.
    ns.restore(&crate::harness::entries(
        20,
        "-I -p udp -s {ip} -d 10.9.0.2 --sport 1 --dport 53 -t 600",
    ));
    within(5, "the by-state gauges follow new entries", || {
        query(&ns, "sum(conntrack_entries_by_state{proto=\"udp\"})").filter(|v| *v == 20.0)
    });
    ns.conntrack(&["-D", "-p", "udp"]);
    within(5, "the gauges follow destroyed entries", || {
        query(&ns, "sum(conntrack_entries_by_state)").filter(|v| *v == 50.0)
    });
    // Every change so far came as an event: no dump was needed.
    assert_eq!(query(&ns, "conntrack_resyncs_total"), Some(0.0));
    // The entries from before die, with events or in silence (then the
    // kernel's count differs over a quiet interval and a dump puts the
    // gauges right).
    ns.conntrack(&["-D", "-p", "tcp"]);
    within(
        20,
        "the gauges follow entries that died without events",
        || query(&ns, "sum(conntrack_entries_by_state) or vector(0)").filter(|v| *v == 0.0),
    );
    within(5, "the kernel's count follows", || {
        query(&ns, "conntrack_entries").filter(|v| *v == 0.0)
    });
    exporter.signal(nix::sys::signal::Signal::SIGTERM);
    let (_, code, _) = exporter.finish(10);
    assert_eq!(code, Some(0));
}

#[test]
fn alert_rules_are_valid() {
    if !needs("promtool") {
        return;
    }
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/ctctl-alerts.yml");
    let out = Command::new("promtool")
        .args(["check", "rules", rules])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn top_once_prints_one_frame() {
    require_root!();
    let ns = Netns::new();
    ns.restore(&crate::harness::entries(
        30,
        "-I -p tcp -s {ip} -d 10.9.0.1 --sport 1 --dport 80 --state ESTABLISHED -t 600",
    ));
    let out = ns.ctctl_ok(&["top", "--once", "--interval", "100ms"]);
    assert_eq!(out.lines().count(), 24, "{out}");
    assert!(out.contains("table 30 / "), "{out}");
    assert!(out.contains("ESTABLISHED"), "{out}");
    assert!(out.contains("tcp/80"), "{out}");
    assert!(out.contains("next: "), "{out}");
    assert!(out.lines().all(|l| l.chars().count() <= 80));
}

#[test]
fn top_runs_in_a_real_terminal_and_q_quits() {
    require_root!();
    if !needs("tmux") {
        return;
    }
    let ns = Netns::new();
    ns.restore("-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 53 -t 600\n");
    let session = format!("ctctl-top-{}", std::process::id());
    let cmd = format!(
        "{} --netns {} top --interval 200ms",
        crate::harness::ctctl_bin().display(),
        ns.name
    );
    let tmux = |args: &[&str]| Command::new("tmux").args(args).output().expect("run tmux");
    let ok = tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "80",
        "-y",
        "24",
        &cmd,
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    struct Kill<'a>(&'a str);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = Command::new("tmux")
                .args(["kill-session", "-t", self.0])
                .status();
        }
    }
    let _guard = Kill(&session);
    let screen = within(10, "top draws a frame", || {
        let out = tmux(&["capture-pane", "-p", "-t", &session]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.contains("table 1 / ").then_some(text)
    });
    assert!(screen.contains("ctctl top"), "{screen}");
    assert!(screen.contains("udp/53"), "{screen}");
    tmux(&["send-keys", "-t", &session, "q"]);
    within(10, "q quits top", || {
        let alive = tmux(&["has-session", "-t", &session]).status.success();
        (!alive).then_some(())
    });
}

#[test]
fn status_check_judges_rates_and_thresholds() {
    require_root!();
    let ns = Netns::new();
    ns.restore("-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 53 -t 600\n");
    let code = |args: &[&str]| ns.ctctl_out(args).status.code();
    assert_eq!(
        code(&["status", "--check", "--quick", "--interval", "100ms"]),
        Some(0)
    );
    // One entry is far below the defaults, above these (in percent of
    // nf_conntrack_max, whatever this host has it at).
    let max: f64 = std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let one = 100.0 / max;
    let (warn, crit) = (format!("{}", one / 4.0), format!("{}", one / 2.0));
    assert_eq!(
        code(&[
            "status",
            "--check",
            "--quick",
            "--interval",
            "10ms",
            "--warn",
            &warn
        ]),
        Some(1)
    );
    assert_eq!(
        code(&[
            "status",
            "--check",
            "--quick",
            "--interval",
            "10ms",
            "--warn",
            &warn,
            "--crit",
            &crit
        ]),
        Some(2)
    );
    // Cron: the first run keeps a sample, the next judges the rates since.
    let state = std::env::temp_dir().join(format!("ctctl-check-{}", ns.name));
    let _ = std::fs::remove_file(&state);
    let s = state.to_str().unwrap();
    let first = ns.ctctl_ok(&[
        "-o",
        "json",
        "status",
        "--check",
        "--quick",
        "--state-file",
        s,
    ]);
    let v: serde_json::Value = serde_json::from_str(first.trim()).unwrap();
    assert!(v["rates"].is_null());
    let second = ns.ctctl_ok(&[
        "-o",
        "json",
        "status",
        "--check",
        "--quick",
        "--state-file",
        s,
    ]);
    let v: serde_json::Value = serde_json::from_str(second.trim()).unwrap();
    assert_eq!(v["rates"]["drop_per_second"], 0.0);
    assert_eq!(v["verdict"], "OK");
    // A sample others could have written is not trusted; nor a symlink.
    std::fs::set_permissions(&state, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let out = ns.ctctl_out(&["status", "--check", "--quick", "--state-file", s]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("writable by others"));
    std::fs::remove_file(&state).unwrap();
    let link = std::env::temp_dir().join(format!("ctctl-check-link-{}", ns.name));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
    let out = ns.ctctl_out(&[
        "status",
        "--check",
        "--quick",
        "--state-file",
        link.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
    std::fs::remove_file(&link).unwrap();
}
