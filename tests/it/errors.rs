//! Error paths: every error says what failed and what to do, with the
//! documented exit codes.

use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::harness::{ctctl_bin, Netns};
use crate::require_root;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_filter_values_exit_2_naming_the_flag() {
    // Parsing happens before anything is sent: no root needed.
    for (args, needle) in [
        (vec!["list", "-s", "10.0.0.300"], "--src"),
        (vec!["list", "--state", "BOGUS"], "--state"),
        (vec!["list", "-p", "nosuchproto"], "--proto"),
        (vec!["list", "--mark", "x/1"], "--mark"),
        (vec!["list", "--status", "NOPE"], "--status"),
        (vec!["list", "-f", "ipv6", "-s", "10.0.0.1"], "--src"),
        (
            vec!["list", "-p", "udp", "--state", "ESTABLISHED"],
            "--state",
        ),
        (vec!["list", "-p", "icmp", "--dport", "1"], "--dport"),
        (
            vec!["get", "-p", "tcp", "-s", "10.0.0.1", "-d", "10.0.0.2"],
            "--sport",
        ),
    ] {
        let out = Command::new(ctctl_bin()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn unknown_netns_says_so() {
    let out = Command::new(ctctl_bin())
        .args(["--netns", "ctctl-no-such-ns", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("no network namespace 'ctctl-no-such-ns'"), "{e}");
    assert!(e.contains("ip netns list"), "{e}");
}

#[test]
fn without_cap_net_admin_exit_3_with_advice() {
    require_root!();
    // Drop to nobody in a fresh namespace: the dump is refused.
    let ns = Netns::new();
    let out = Command::new(ctctl_bin())
        .args(["list"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    drop(ns);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needs CAP_NET_ADMIN"),
        "{}",
        stderr(&out)
    );

    let out = Command::new(ctctl_bin())
        .args(["count"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn entering_a_netns_without_privilege_is_exit_3() {
    require_root!();
    let ns = Netns::new();
    let out = Command::new(ctctl_bin())
        .args(["--netns", &ns.name, "list"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("CAP_SYS_ADMIN"), "{}", stderr(&out));
}

#[test]
fn config_set_without_root_is_exit_3() {
    require_root!();
    let out = Command::new(ctctl_bin())
        .args(["config", "set", "timeout.udp=10"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("run as root"), "{}", stderr(&out));
}
