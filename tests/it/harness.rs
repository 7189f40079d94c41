//! The integration-test harness: a fresh network namespace per test
//! (created with `ip netns add`, removed on drop), helpers to load entries
//! with conntrack(8), to make real loopback traffic tracked by an nft
//! `ct state` rule, and to run ctctl inside it.
//!
//! Tests that need root or a tool skip visibly (a `SKIPPED:` line on
//! stderr) unless `CTCTL_REQUIRE_ROOT=1`, when they fail instead.

use std::io::Write;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Whether privileged tests must fail instead of skipping.
pub fn require_root() -> bool {
    std::env::var("CTCTL_REQUIRE_ROOT").is_ok_and(|v| v == "1")
}

/// Returns false (after printing why) when the test cannot run here.
pub fn can_run(test: &str) -> bool {
    let mut missing = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root".to_string());
    }
    for tool in ["ip", "conntrack", "nft"] {
        if which(tool).is_none() {
            missing.push(format!("the `{tool}` command"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let why = format!("{test}: needs {}", missing.join(", "));
    if require_root() {
        panic!("{why} (CTCTL_REQUIRE_ROOT=1)");
    }
    eprintln!("SKIPPED: {why}");
    false
}

/// Skips the calling test unless it can run (root and tools present).
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::harness::can_run(module_path!()) {
            return;
        }
    };
}

pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// The ctctl binary under test.
pub fn ctctl_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ctctl"))
}

/// A network namespace that exists for the life of the value.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates a fresh, uniquely named namespace with loopback up.
    pub fn new() -> Netns {
        let name = format!(
            "ctctl-it-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        ns.exec_ok(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// The namespace file.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// A file that commands run in the namespace (`ip netns exec`) see at
    /// `/etc/REL`: written under `/etc/netns/NAME/`, which `ip netns exec`
    /// mounts over `/etc` for them. The top directory must exist in `/etc`
    /// as the mount point; it is made (empty) when missing.
    pub fn etc_file(&self, rel: &str, content: &str) {
        let top = rel.split('/').next().unwrap();
        if rel.contains('/') {
            std::fs::create_dir_all(std::path::Path::new("/etc").join(top)).unwrap();
        }
        let path = std::path::Path::new("/etc/netns")
            .join(&self.name)
            .join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// Runs a command inside the namespace.
    pub fn exec(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .output()
            .expect("ip netns exec")
    }

    /// Runs a command inside the namespace and asserts it succeeded.
    pub fn exec_ok(&self, args: &[&str]) -> Output {
        let out = self.exec(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `conntrack ARGS` in the namespace; asserts success.
    pub fn conntrack(&self, args: &[&str]) -> String {
        let mut full = vec!["conntrack"];
        full.extend_from_slice(args);
        String::from_utf8(self.exec_ok(&full).stdout).unwrap()
    }

    /// Loads entries with `conntrack -R` (lines of conntrack -I options).
    pub fn restore(&self, lines: &str) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "conntrack", "-R", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("conntrack -R");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(lines.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "conntrack -R failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A ctctl command that runs in this namespace (via --netns).
    pub fn ctctl(&self) -> Command {
        let mut c = Command::new(ctctl_bin());
        c.args(["--netns", &self.name]);
        c
    }

    /// Runs ctctl with `args` in the namespace.
    pub fn ctctl_out(&self, args: &[&str]) -> Output {
        self.ctctl().args(args).output().expect("run ctctl")
    }

    /// Runs ctctl, asserts exit 0, returns stdout.
    pub fn ctctl_ok(&self, args: &[&str]) -> String {
        let out = self.ctctl_out(args);
        assert!(
            out.status.success(),
            "ctctl {args:?} exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs ctctl with `args` in the namespace, `input` on its stdin.
    pub fn ctctl_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .ctctl()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ctctl");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Sets a sysctl of this namespace (`net.netfilter.*`, per namespace).
    pub fn sysctl(&self, key: &str, value: &str) {
        self.exec_ok(&["sysctl", "-q", "-w", &format!("{key}={value}")]);
    }

    /// Makes the namespace track loopback traffic: an nft rule using
    /// `ct state` registers conntrack's hooks here.
    pub fn track_traffic(&self) {
        let ruleset = "table inet ctctl_it {\n\
            chain out { type filter hook output priority 0; policy accept; ct state new,established,related accept; }\n\
            chain in { type filter hook input priority 0; policy accept; ct state new,established,related accept; }\n\
            }\n";
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("nft");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ruleset.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "nft ruleset");
    }

    /// Runs `f` on a thread inside the namespace (sockets it makes live here).
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        ctctl::netns::run_in(&self.name, f).expect("enter netns")
    }

    /// One TCP connection over loopback that exchanges data and closes
    /// (leaves a TIME_WAIT entry); returns the client's source port.
    pub fn tcp_exchange(&self, port: u16) -> u16 {
        self.run(|| {
            let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
            let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
            let sport = c.local_addr().unwrap().port();
            let (mut s, _) = l.accept().unwrap();
            c.write_all(b"hello").unwrap();
            let mut buf = [0u8; 5];
            std::io::Read::read_exact(&mut s, &mut buf).unwrap();
            drop(c);
            drop(s);
            sport
        })
    }

    /// An open TCP connection over loopback (ESTABLISHED) kept until the
    /// returned streams are dropped.
    pub fn tcp_open(&self, port: u16) -> (TcpStream, TcpStream) {
        self.run(|| {
            let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
            let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
            let (s, _) = l.accept().unwrap();
            c.write_all(b"x").unwrap();
            (c, s)
        })
    }

    /// One UDP datagram from the client to a bound server over loopback.
    pub fn udp_send(&self, port: u16) -> u16 {
        self.run(|| {
            let server = UdpSocket::bind(("127.0.0.1", port)).unwrap();
            let client = UdpSocket::bind("127.0.0.1:0").unwrap();
            client
                .send_to(b"ping", server.local_addr().unwrap())
                .unwrap();
            let mut buf = [0u8; 4];
            let (_, from) = server.recv_from(&mut buf).unwrap();
            server.send_to(b"pong", from).unwrap();
            client.local_addr().unwrap().port()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(std::path::Path::new("/etc/netns").join(&self.name));
    }
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The set of entries, as sorted lines without timeouts.
pub fn table(ns: &Netns) -> Vec<String> {
    list(ns, &[])
}

/// `ctctl list ARGS`, as sorted lines without timeouts.
pub fn list(ns: &Netns, args: &[&str]) -> Vec<String> {
    let mut full = vec!["list"];
    full.extend_from_slice(args);
    normalized(&ns.ctctl_ok(&full))
        .into_iter()
        .map(|x| x.0)
        .collect()
}

/// `conntrack -L ARGS`, as sorted lines without timeouts.
pub fn conntrack_list(ns: &Netns, args: &[&str]) -> Vec<String> {
    let mut full = vec!["-L"];
    full.extend_from_slice(args);
    let out = ns.exec(&[&["conntrack"][..], &full].concat());
    normalized(&String::from_utf8_lossy(&out.stdout))
        .into_iter()
        .map(|x| x.0)
        .collect()
}

/// `n` lines of `conntrack -R` input from `template`, whose `{ip}` becomes
/// a distinct address per line (10.1.0.0, 10.1.0.1, ...).
pub fn entries(n: usize, template: &str) -> String {
    (0..n)
        .map(|i| template.replace("{ip}", &format!("10.1.{}.{}", i / 250, i % 250)) + "\n")
        .collect()
}

/// Lines of conntrack output, sorted, with the fields that change between
/// two reads (the remaining timeout, delta-time) replaced by a mark; the
/// timeouts are returned beside each line for a bounded comparison.
pub fn normalized(text: &str) -> Vec<(String, Option<u64>)> {
    let mut lines: Vec<(String, Option<u64>)> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut timeout = None;
            let mut fields: Vec<String> = l.split(' ').map(str::to_string).collect();
            // The timeout is the first all-digit field after the protocol
            // number: "tcp      6 431999 ESTABLISHED ..." or, extended,
            // "ipv4     2 tcp      6 431999 ...".
            let mut digits_seen = 0;
            let proto_numbers = if l.starts_with("ipv") { 2 } else { 1 };
            for f in fields.iter_mut() {
                if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) {
                    digits_seen += 1;
                    if digits_seen == proto_numbers + 1 {
                        timeout = f.parse().ok();
                        *f = "<timeout>".into();
                        break;
                    }
                }
            }
            for f in fields.iter_mut() {
                if f.starts_with("delta-time=") {
                    *f = "delta-time=<n>".into();
                }
            }
            (fields.join(" "), timeout)
        })
        .collect();
    lines.sort();
    lines
}

/// A ctctl process running in the background (`events`, `wait`), with its
/// stdout (when piped) and stderr read line by line on threads.
pub struct Background {
    pub child: std::process::Child,
    stdout: Option<std::sync::mpsc::Receiver<String>>,
    stderr: std::sync::mpsc::Receiver<String>,
    pub stdout_lines: Vec<String>,
    pub stderr_lines: Vec<String>,
}

fn line_reader(r: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(r).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn try_wait_line(
    rx: &std::sync::mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    pred: impl Fn(&str) -> bool,
    within: std::time::Duration,
) -> Option<String> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx.recv_timeout(left).ok()?;
        seen.push(line.clone());
        if pred(&line) {
            return Some(line);
        }
    }
}

fn wait_line(
    rx: &std::sync::mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    pred: impl Fn(&str) -> bool,
    secs: u64,
    what: &str,
) -> String {
    try_wait_line(rx, seen, pred, std::time::Duration::from_secs(secs)).unwrap_or_else(|| {
        let tail: Vec<&String> = seen.iter().rev().take(5).collect();
        panic!(
            "no {what} line as expected within {secs} s; {} lines, the last: {tail:?}",
            seen.len()
        )
    })
}

/// A test that fails while ctctl runs must not leave it running (an event
/// listener keeps its namespace alive and slows the kernel down).
impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Background {
    /// Starts `ctctl ARGS` in `ns` with stdout piped or sent elsewhere.
    pub fn start(ns: &Netns, args: &[&str], stdout: Stdio) -> Background {
        let mut cmd = ns.ctctl();
        cmd.args(args);
        Background::spawn(cmd, stdout)
    }

    /// Starts `cmd` with stdout piped or sent elsewhere.
    pub fn spawn(mut cmd: Command, stdout: Stdio) -> Background {
        let mut child = cmd
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ctctl");
        let stderr = line_reader(child.stderr.take().unwrap());
        let stdout = child.stdout.take().map(line_reader);
        Background {
            child,
            stdout,
            stderr,
            stdout_lines: Vec::new(),
            stderr_lines: Vec::new(),
        }
    }

    /// Waits (at most `secs`) for a stderr line containing `needle`.
    pub fn wait_stderr(&mut self, needle: &str, secs: u64) -> String {
        wait_line(
            &self.stderr,
            &mut self.stderr_lines,
            |l| l.contains(needle),
            secs,
            "stderr",
        )
    }

    /// Waits (at most `secs`) for a stdout line for which `pred` holds.
    pub fn wait_stdout(&mut self, pred: impl Fn(&str) -> bool, secs: u64) -> String {
        let rx = self.stdout.as_ref().expect("stdout is piped");
        wait_line(rx, &mut self.stdout_lines, pred, secs, "stdout")
    }

    /// Like [`Background::wait_stdout`], but `None` after `within`.
    pub fn try_wait_stdout(
        &mut self,
        pred: impl Fn(&str) -> bool,
        within: std::time::Duration,
    ) -> Option<String> {
        let rx = self.stdout.as_ref().expect("stdout is piped");
        try_wait_line(rx, &mut self.stdout_lines, pred, within)
    }

    /// The process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the process.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    /// Waits (at most `secs`) for the process to exit; returns all its
    /// stdout lines (when piped) joined, its exit code and stderr lines.
    /// Kills it and fails on timeout.
    pub fn finish(mut self, secs: u64) -> (String, Option<i32>, Vec<String>) {
        let stderr_lines = std::mem::take(&mut self.stderr_lines);
        let stdout_lines = std::mem::take(&mut self.stdout_lines);
        self.finish_inner(secs, stdout_lines, stderr_lines)
    }

    fn finish_inner(
        &mut self,
        secs: u64,
        mut stdout_lines: Vec<String>,
        mut stderr_lines: Vec<String>,
    ) -> (String, Option<i32>, Vec<String>) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            // Keep draining stdout so the child never blocks on a full pipe.
            if let Some(rx) = &self.stdout {
                while let Ok(line) = rx.try_recv() {
                    stdout_lines.push(line);
                }
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                if let Some(rx) = &self.stdout {
                    stdout_lines.extend(rx.iter());
                }
                stderr_lines.extend(self.stderr.iter());
                let mut out = stdout_lines.join("\n");
                if !out.is_empty() {
                    out.push('\n');
                }
                return (out, status.code(), stderr_lines);
            }
            if std::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                let tail: Vec<&String> = stderr_lines.iter().rev().take(5).collect();
                panic!("ctctl did not exit within {secs} s; stderr ends {tail:?}");
            }
            // Bounded wait for a child's exit: there is no event to block on
            // without taking over SIGCHLD for the whole test binary.
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

/// Polls a condition on the file system (no event to wait on), bounded.
pub fn wait_until(mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not met within 10 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// `ctctl -o json events --output-file LOG` in `ns`, returned once it
/// listens.
pub fn events_to_file(ns: &Netns, log: &std::path::Path) -> Background {
    let mut bg = Background::start(
        ns,
        &[
            "-o",
            "json",
            "events",
            "--output-file",
            log.to_str().unwrap(),
        ],
        Stdio::null(),
    );
    bg.wait_stderr("listening", 10);
    bg
}

/// The port of an exporter started with `--listen 127.0.0.1:0`, from its
/// `exporter listening on http://127.0.0.1:PORT/metrics` line.
pub fn listening_port(line: &str) -> u16 {
    line.split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"))
}
