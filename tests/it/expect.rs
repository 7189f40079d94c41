//! The expectation table with a real helper: the kernel's FTP helper,
//! attached by an nft `ct helper` rule, watching a real FTP server
//! (pyftpdlib) and real clients (Python's ftplib, curl) in a namespace.
//! conntrack 1.4.7 is the oracle for what the table holds.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{ctctl_bin, which, Background, Netns};
use crate::require_root;

const PYTHON: &str = "/usr/bin/python3";

/// A namespace with the FTP helper on port 21 and an FTP server there.
struct Ftp {
    ns: Netns,
    server: Child,
    root: std::path::PathBuf,
}

impl Drop for Ftp {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Whether the tools are here (scripts/test.sh installs them).
fn ftp_tools() -> bool {
    let ok = which("curl").is_some()
        && Command::new(PYTHON)
            .args(["-c", "import pyftpdlib"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !crate::harness::require_root(),
            "needs curl and python3-pyftpdlib"
        );
        eprintln!("SKIPPED: needs curl and python3-pyftpdlib");
    }
    ok
}

fn start() -> Ftp {
    let ns = Netns::new();
    let rules = "table inet ctctl_ftp {\n\
        ct helper ftp-std { type \"ftp\" protocol tcp; }\n\
        chain out { type filter hook output priority 0; tcp dport 21 ct helper set \"ftp-std\"; }\n\
        }\n";
    let mut nft = Command::new("ip")
        .args(["netns", "exec", &ns.name, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    nft.stdin
        .take()
        .unwrap()
        .write_all(rules.as_bytes())
        .unwrap();
    assert!(nft.wait().unwrap().success(), "nft ct helper rule");
    let root = std::env::temp_dir().join(format!("ctctl-ftp-{}-{}", std::process::id(), ns.name));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("f.txt"), "hello over ftp\n").unwrap();
    let server = Command::new("ip")
        .args(["netns", "exec", &ns.name, PYTHON, "-m", "pyftpdlib"])
        .args(["-i", "127.0.0.1", "-p", "21", "-d"])
        .arg(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ftp = Ftp { ns, server, root };
    // The server is up once it accepts (bounded: 10 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ftp.ns.run(|| TcpStream::connect("127.0.0.1:21").is_ok()) {
        assert!(Instant::now() < deadline, "FTP server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    ftp
}

/// A client that logs in, asks for passive mode and holds the control
/// connection (the expectation stays) until dropped.
struct Client {
    child: Child,
    _stdin: ChildStdin,
    /// The data port the server announced.
    port: u16,
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pasv_client(ns: &Netns) -> Client {
    let script = "import ftplib,sys\n\
        f=ftplib.FTP(); f.connect('127.0.0.1',21); f.login()\n\
        r=f.sendcmd('PASV'); n=r[r.index('(')+1:r.index(')')].split(',')\n\
        print(int(n[4])*256+int(n[5]), flush=True)\n\
        sys.stdin.read()\n";
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.name, PYTHON, "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("PASV port");
    Client {
        child,
        _stdin: stdin,
        port,
    }
}

/// `conntrack -L expect` (or ctctl as conntrack) lines, timeouts cut off.
fn expect_lines(out: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(out)
        .lines()
        .filter(|l| l.contains(" proto="))
        .map(|l| l.split_once(' ').unwrap().1.to_string())
        .collect();
    v.sort();
    v
}

fn real_expectations(ns: &Netns) -> Vec<String> {
    expect_lines(&ns.exec_ok(&["conntrack", "-L", "expect"]).stdout)
}

fn ctctl(ns: &Netns, args: &[&str]) -> std::process::Output {
    ns.ctctl_out(args)
}

/// The source port of the FTP control connection (the master).
fn master_sport(ns: &Netns) -> String {
    let t = ns.conntrack(&["-L", "-p", "tcp", "--dport", "21", "--state", "ESTABLISHED"]);
    let line = t.lines().next().expect("the control connection is tracked");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("sport="))
        .unwrap()
        .to_string()
}

#[test]
fn a_real_ftp_expectation_is_listed_got_deleted_and_created_like_conntrack() {
    require_root!();
    if !ftp_tools() {
        return;
    }
    let ftp = start();
    let ns = &ftp.ns;
    let client = pasv_client(ns);
    let port = client.port.to_string();
    // The helper saw the 227 reply before the client printed the port.
    let real = real_expectations(ns);
    assert_eq!(real.len(), 1, "{real:?}");
    assert!(real[0].contains(&format!("dport={port} ")), "{real:?}");

    // list: conntrack's lines; JSON with the master and the helper.
    let ours = ctctl(ns, &["expect", "list"]);
    assert!(ours.status.success());
    assert_eq!(expect_lines(&ours.stdout), real);
    let json = ctctl(ns, &["-o", "json", "expect", "list", "--helper", "ftp"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["master"]["dport"], 21);
    assert_eq!(v["tuple"]["dport"], client.port);
    assert_eq!(v["mask"]["sport"], 0);
    assert_eq!(v["helper"], "ftp");
    assert_eq!(
        ctctl(ns, &["expect", "list", "--helper", "sip"]).stdout,
        b"",
        "a filter excludes"
    );
    assert_eq!(ns.ctctl_ok(&["expect", "count"]).trim(), "1");

    // status: the count, expect_max and the counters.
    let st: serde_json::Value =
        serde_json::from_str(&ns.ctctl_ok(&["-o", "json", "status", "--quick"])).unwrap();
    assert_eq!(st["expect"]["count"], 1);
    assert!(st["expect"]["max"].as_u64().unwrap() > 0);
    assert!(st["expect"]["expect_create"].as_u64().unwrap() >= 1);

    // get: by the tuple a data connection would have (any source port).
    // `ctctl expect VERB` on a loopback TCP tuple.
    let on_tuple = |verb: &str, sport: &str, dport: &str, more: &[&str]| {
        let mut args = vec![
            "expect",
            verb,
            "-p",
            "tcp",
            "-s",
            "127.0.0.1",
            "-d",
            "127.0.0.1",
            "--sport",
            sport,
            "--dport",
            dport,
        ];
        args.extend_from_slice(more);
        ctctl(ns, &args)
    };
    let get = |sport: &str, dport: &str| on_tuple("get", sport, dport, &[]);
    let got = get("4242", &port);
    assert!(got.status.success());
    assert_eq!(expect_lines(&got.stdout), real);
    assert_eq!(get("0", "1").status.code(), Some(1));

    // delete: never unfiltered without --all; a filter that excludes
    // deletes nothing; one that selects deletes exactly it.
    let bare = ctctl(ns, &["expect", "delete"]);
    assert_eq!(bare.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bare.stderr).contains("--all"));
    ns.ctctl_ok(&["expect", "delete", "--master-dport", "2121"]);
    assert_eq!(
        real_expectations(ns),
        real,
        "a delete its filter excludes removed it"
    );
    let del = ns.ctctl_ok(&["-o", "json", "expect", "delete", "--dport", &port]);
    assert!(del.contains("\"deleted\":1"), "{del}");
    assert!(real_expectations(ns).is_empty());

    // create: on the helper's master, seen by conntrack as the kernel holds it.
    let sport = master_sport(ns);
    let create = |sport: &str, dport: &str, more: &[&str]| on_tuple("create", sport, dport, more);
    let made = create(
        &sport,
        "21",
        &[
            "--tuple-dport",
            "40000",
            "-t",
            "100",
            "--flags",
            "permanent",
        ],
    );
    assert!(made.status.success(), "{made:?}");
    let made = real_expectations(ns);
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(
        made[0].starts_with("proto=6 src=127.0.0.1 dst=127.0.0.1 sport=0 dport=40000 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=127.0.0.1 master-dst=127.0.0.1 sport="),
        "{made:?}"
    );
    assert!(made[0].contains(" PERMANENT "), "{made:?}");
    // A master without a helper: a message that says what to do.
    let orphan = create("1", "2", &["--tuple-dport", "3", "-t", "5"]);
    assert_eq!(orphan.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&orphan.stderr).contains("no master entry"));

    // flush
    assert_eq!(ctctl(ns, &["expect", "flush"]).status.code(), Some(2));
    ns.ctctl_ok(&["expect", "flush", "--all"]);
    assert!(real_expectations(ns).is_empty());
    drop(client);
}

#[test]
fn events_show_an_expectation_made_and_used_by_a_real_transfer() {
    require_root!();
    if !ftp_tools() {
        return;
    }
    let ftp = start();
    let ns = &ftp.ns;
    let mut ev = Background::start(
        ns,
        &["-o", "json", "expect", "events", "--count", "2"],
        Stdio::piped(),
    );
    ev.wait_stderr("listening for expectation events", 10);
    let before: u64 = stats_sum(ns, "expect_new");
    let out = ns.exec_ok(&["curl", "-s", "--max-time", "10", "ftp://127.0.0.1/f.txt"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello over ftp\n");
    let (lines, code, _) = ev.finish(10);
    assert_eq!(code, Some(0));
    let events: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "new");
    assert_eq!(events[1]["event"], "destroy");
    assert_eq!(events[0]["master"]["dport"], 21);
    assert_eq!(events[0]["tuple"], events[1]["tuple"]);
    // The data connection matched it: the kernel counted a use.
    assert!(stats_sum(ns, "expect_new") > before);
    // The data connection is RELATED: conntrack shows it with the helper's
    // master (EXPECTED status).
    assert!(real_expectations(ns).is_empty());
}

fn stats_sum(ns: &Netns, key: &str) -> u64 {
    ns.ctctl_ok(&["-o", "json", "expect", "stats"])
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()[key]
                .as_u64()
                .unwrap()
        })
        .sum()
}

/// ctctl as `conntrack` against the real one on the same expectation:
/// the same lines, messages and exit codes.
#[test]
fn as_conntrack_the_expect_table_answers_like_conntrack() {
    require_root!();
    if !ftp_tools() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ctctl-exp-as-conntrack-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ours = dir.join("conntrack");
    let _ = std::fs::remove_file(&ours);
    std::os::unix::fs::symlink(ctctl_bin(), &ours).unwrap();
    let ours = ours.to_str().unwrap().to_string();
    let ftp = start();
    let ns = &ftp.ns;
    let client = pasv_client(ns);
    let port = client.port.to_string();
    let run = |prog: &str, args: &[&str]| {
        let mut full = vec![prog];
        full.extend_from_slice(args);
        let o = ns.exec(&full);
        (
            o.status.code(),
            expect_lines(&o.stdout),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let tuple = [
        "-s",
        "127.0.0.1",
        "-d",
        "127.0.0.1",
        "-p",
        "tcp",
        "--sport",
        "0",
        "--dport",
    ];
    let reply = ["--reply-port-src", "1", "--reply-port-dst", "2"];
    let get: Vec<&str> = ["-G", "expect"]
        .into_iter()
        .chain(tuple)
        .chain([port.as_str()])
        .chain(reply)
        .collect();
    let get_missing_reply: Vec<&str> = ["-G", "expect"]
        .into_iter()
        .chain(tuple)
        .chain([port.as_str()])
        .collect();
    let delete_none: Vec<&str> = ["-D", "expect"]
        .into_iter()
        .chain(tuple)
        .chain(["9"])
        .chain(reply)
        .collect();
    for args in [
        vec!["-L", "expect"],
        vec!["-C", "expect"],
        get.clone(),
        get_missing_reply,
        delete_none,
        vec!["-U", "expect"],
    ] {
        let real = run("conntrack", &args);
        let mine = run(&ours, &args);
        assert_eq!(mine, real, "conntrack {args:?}");
    }
    // -o xml: the same document (the timer may tick between the runs).
    let xml = |prog: &str| {
        let o = ns.exec(&[prog, "-L", "expect", "-o", "xml"]);
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let i = text.find("<timeout>").expect("a timeout element");
        let j = text[i..].find("</timeout>").unwrap() + i;
        (
            o.status.code(),
            format!("{}T{}", &text[..i], &text[j..]),
            o.stderr,
        )
    };
    let real_xml = xml("conntrack");
    assert!(real_xml.1.contains("<helper-name>ftp</helper-name>"));
    assert_eq!(xml(&ours), real_xml);
    // Deleting the expectation: conntrack 1.4.7 says "0 ... shown" and
    // exits 1 even though it worked; ours too, and it is gone.
    let del: Vec<&str> = ["-D", "expect"]
        .into_iter()
        .chain(tuple)
        .chain([port.as_str()])
        .chain(reply)
        .collect();
    let mine = run(&ours, &del);
    assert_eq!(mine.0, Some(1));
    assert!(
        mine.2.contains("0 expectations have been shown."),
        "{}",
        mine.2
    );
    assert!(real_expectations(ns).is_empty());
    let (code, _, msg) = run(&ours, &["-F", "expect"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        msg,
        "conntrack v1.4.7 (conntrack-tools): expectation table has been emptied.\n"
    );
    drop(client);
    let _ = std::fs::remove_dir_all(&dir);
}
