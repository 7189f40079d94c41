//! Safe to run as root: nothing outside the kernel steers ctctl, the files
//! it writes are its own, inputs are bounded, and only the kernel is heard.

use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;

use nix::sys::signal::Signal;

use crate::harness::{table, wait_until, Netns};
use crate::require_root;

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ctctl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// CTCTL_ROOT once relocated every /proc, /sys and /etc path of the real
/// binary; now nothing in the environment does.
#[test]
fn the_environment_does_not_relocate_system_paths() {
    let dir = temp_dir("fake-root");
    let nf = dir.join("proc/sys/net/netfilter");
    std::fs::create_dir_all(&nf).unwrap();
    std::fs::write(nf.join("nf_conntrack_max"), "12345\n").unwrap();
    let out = std::process::Command::new(crate::harness::ctctl_bin())
        .args(["config", "max"])
        .env("CTCTL_ROOT", &dir)
        .output()
        .unwrap();
    let real = std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_max").unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(!shown.contains("12345"), "a fake tree was read: {shown}");
    assert!(shown.contains(real.trim()), "{shown} vs {real}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The event log is created 0640, never opened through a symlink, and a
/// reopen that fails keeps the log going in the file already open.
#[test]
fn event_log_is_private_refuses_symlinks_and_survives_a_failed_reopen() {
    require_root!();
    let ns = Netns::new();
    let dir = temp_dir("evlog");
    let log = dir.join("events.log");
    let elsewhere = dir.join("elsewhere");
    std::fs::write(&elsewhere, "untouched\n").unwrap();

    // A planted symlink: refused, exit 2, its target untouched.
    std::os::unix::fs::symlink(&elsewhere, &log).unwrap();
    let out = ns.ctctl_out(&[
        "events",
        "--output-file",
        log.to_str().unwrap(),
        "--count",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
    std::fs::remove_file(&log).unwrap();

    let mut bg = crate::harness::events_to_file(&ns, &log);
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "the connection log is not for everyone");
    ns.restore("-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 53 -t 60\n");
    let contains =
        |p: &std::path::Path, s: &str| std::fs::read_to_string(p).is_ok_and(|t| t.contains(s));
    wait_until(|| contains(&log, "10.0.0.1"));
    // Rotation goes wrong: the new name is a symlink. The reopen fails,
    // ctctl warns and keeps writing to the rotated (still open) file.
    let rotated = dir.join("events.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &log).unwrap();
    bg.signal(Signal::SIGHUP);
    bg.wait_stderr("still writing to the file opened before", 10);
    ns.restore("-I -p udp -s 10.0.0.3 -d 10.0.0.2 --sport 1 --dport 53 -t 60\n");
    wait_until(|| contains(&rotated, "10.0.0.3"));
    bg.signal(Signal::SIGTERM);
    let (_, code, _) = bg.finish(10);
    assert_eq!(code, Some(0), "a failed reopen does not end the daemon");
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "untouched\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A restore line with an oversized helper name is refused by line number
/// (it would wrap the attribute length), and any failed line is exit 2.
#[test]
fn restore_bounds_fields_and_fails_loudly() {
    require_root!();
    let ns = Netns::new();
    let good = r#"{"family":"ipv4","proto":"udp","proto_num":17,"timeout":60,"orig":{"src":"10.0.0.1","dst":"10.0.0.2","sport":1,"dport":53},"reply":{"src":"10.0.0.2","dst":"10.0.0.1","sport":53,"dport":1},"status":[],"mark":0,"zone":0}"#;
    let huge = good.replace(
        r#""zone":0}"#,
        &format!(r#""zone":0,"helper":"{}"}}"#, "h".repeat(70_000)),
    );
    let bad_label = good
        .replace("10.0.0.1", "10.0.0.5")
        .replace(r#""zone":0}"#, r#""zone":0,"labels":[200]}"#);
    let input = format!("{good}\n{huge}\n{bad_label}\n");
    let out = ns.ctctl_stdin(&["restore"], &input);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("line 2: helper name of 70000 bytes"), "{err}");
    assert!(err.contains("line 3: labels are bits 0 to 127"), "{err}");
    assert_eq!(table(&ns).len(), 1, "the good line is restored");
    // A line the kernel refuses (it exists already) is a failure too.
    let again = ns.ctctl_stdin(&["restore"], &format!("{good}\n"));
    assert_eq!(
        again.status.code(),
        Some(0),
        "already there is not a failure"
    );
    let dry = ns.ctctl_stdin(&["restore", "--dry-run"], &format!("{huge}\n"));
    assert_eq!(dry.status.code(), Some(2));
}

/// A closed stderr does not kill ctctl (panic = "abort" made eprintln!'s
/// panic a SIGABRT).
#[test]
fn closed_stderr_is_not_fatal() {
    require_root!();
    let ns = Netns::new();
    ns.restore("-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 53 -t 60\n");
    // `sh -c 'exec 2>&-; ...'`: the summary goes to a closed stderr.
    let cmd = format!(
        "exec 2>&-; {} --netns {} delete -p udp --dport 53",
        crate::harness::ctctl_bin().display(),
        ns.name
    );
    let status = std::process::Command::new("sh")
        .args(["-c", &cmd])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(table(&ns).is_empty());
}

/// `config recommend --peak` near 2^64 does not wrap to a maximum of 0.
#[test]
fn huge_peak_does_not_wrap() {
    let out = std::process::Command::new(crate::harness::ctctl_bin())
        .args(["config", "recommend", "--peak", "9223372036854775808"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("max=0") && !text.contains("-> 0 "), "{text}");
}

/// Only the kernel is heard: a datagram another process sends to ctctl's
/// socket (with CAP_NET_ADMIN in the namespace, a container's root can) is
/// dropped and counted, on request sockets and on event sockets.
#[test]
fn datagrams_not_from_the_kernel_are_dropped() {
    require_root!();
    let ns = Netns::new();
    ns.run(|| {
        let sock = ctctl_netlink::Socket::open().unwrap();
        let opts = ctctl::EventOptions {
            new: true,
            update: true,
            destroy: true,
            buffer_size: 1 << 20,
            reliable: false,
        };
        let mut events = ctctl::EventStream::subscribe(
            ctctl_netlink::Socket::open().unwrap(),
            &opts,
            &ctctl::Filter::all(),
        )
        .unwrap();
        // A fake DESTROY event: a message of type IPCTNL_MSG_CT_DELETE.
        let fake: Vec<u8> = {
            let mut m = vec![0u8; 20];
            m[0..4].copy_from_slice(&20u32.to_ne_bytes());
            m[4..6].copy_from_slice(&((1u16 << 8) | 2).to_ne_bytes());
            m[16] = libc::AF_INET as u8;
            m
        };
        let attacker = ctctl_netlink::Socket::open().unwrap();
        for target in [portid(&sock), portid(events.socket())] {
            send_to(&attacker, target, &fake);
        }
        let mut buf = vec![0u8; 65536];
        assert_eq!(sock.try_recv(&mut buf, "test").unwrap(), None);
        assert_eq!(sock.foreign(), 1);
        let mut seen = 0;
        let polled = events
            .poll(Some(std::time::Duration::from_millis(200)), |_| seen += 1)
            .unwrap();
        assert_eq!(seen, 0, "no event from a process");
        assert_eq!(polled.foreign, 1);
    });
}

fn portid(sock: &ctctl_netlink::Socket) -> u32 {
    // SAFETY: a zeroed sockaddr_nl is valid; getsockname fills it.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    let r = unsafe {
        libc::getsockname(
            sock.as_raw_fd(),
            (&mut addr as *mut libc::sockaddr_nl).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0);
    addr.nl_pid
}

fn send_to(from: &ctctl_netlink::Socket, portid: u32, msg: &[u8]) {
    // SAFETY: a zeroed sockaddr_nl is valid.
    let mut to: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    to.nl_family = libc::AF_NETLINK as u16;
    to.nl_pid = portid;
    let r = unsafe {
        libc::sendto(
            from.as_raw_fd(),
            msg.as_ptr().cast(),
            msg.len(),
            0,
            (&to as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    assert_eq!(r, msg.len() as isize, "{}", std::io::Error::last_os_error());
}
