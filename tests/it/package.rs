//! What ships: the Debian package's contents, man pages that render,
//! completions; and the kernel's side lists.

use std::process::Command;

use crate::harness::{ctctl_bin, which, Netns};
use crate::require_root;

#[test]
fn the_package_holds_binary_pages_completions_and_units() {
    if which("dpkg-deb").is_none() || which("man").is_none() {
        assert!(!crate::harness::require_root(), "needs dpkg-deb and man");
        eprintln!("SKIPPED: needs dpkg-deb and man");
        return;
    }
    let out_dir = std::env::temp_dir().join(format!("ctctl-deb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/package.sh");
    let out = Command::new(script)
        .arg("--binary")
        .arg(ctctl_bin())
        .arg("--out")
        .arg(&out_dir)
        .arg("--fast")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let list = Command::new("dpkg-deb")
        .args(["-c", &deb])
        .output()
        .unwrap();
    let files = String::from_utf8_lossy(&list.stdout);
    for f in [
        "./usr/bin/ctctl",
        "./usr/lib/ctctl/conntrack -> ../../bin/ctctl",
        "./usr/share/man/man1/ctctl.1.gz",
        "./usr/share/man/man1/ctctl-delete.1.gz",
        "./usr/share/man/man1/ctctl-exporter.1.gz",
        "./usr/share/bash-completion/completions/ctctl",
        "./usr/share/zsh/vendor-completions/_ctctl",
        "./usr/share/fish/vendor_completions.d/ctctl.fish",
        "./lib/systemd/system/ctctl-events.service",
        "./lib/systemd/system/ctctl-exporter.service",
        "./etc/logrotate.d/ctctl-events",
        "./usr/share/doc/ctctl/examples/ctctl-alerts.yml",
    ] {
        assert!(
            files.lines().any(|l| l.ends_with(f)),
            "{f} missing:\n{files}"
        );
    }
    // Every man page renders.
    let root = out_dir.join("root");
    assert!(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&root)
        .status()
        .unwrap()
        .success());
    let man1 = root.join("usr/share/man/man1");
    let pages: Vec<_> = std::fs::read_dir(&man1).unwrap().flatten().collect();
    assert!(pages.len() >= 15, "{} pages", pages.len());
    for p in pages {
        let r = Command::new("man")
            .arg("-l")
            .arg(p.path())
            .env("MANWIDTH", "80")
            .env("MAN_KEEP_FORMATTING", "0")
            .output()
            .unwrap();
        // Not a terminal: grotty overstrikes bold (N\bN); keep the letters.
        let raw = String::from_utf8_lossy(&r.stdout);
        let mut text = String::new();
        for c in raw.chars() {
            if c == '\u{8}' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        assert!(
            r.status.success() && text.contains("NAME"),
            "{}: {text}",
            p.path().display()
        );
    }
    let ctrl = Command::new("dpkg-deb")
        .args(["-I", &deb, "postinst"])
        .output()
        .unwrap();
    let postinst = String::from_utf8_lossy(&ctrl.stdout);
    assert!(
        postinst.contains("[ ! -e /usr/sbin/conntrack ] || [ -L /usr/sbin/conntrack ]"),
        "the alternative never replaces a real conntrack: {postinst}"
    );
    let unit =
        std::fs::read_to_string(root.join("lib/systemd/system/ctctl-exporter.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/ctctl exporter"), "{unit}");
    std::fs::remove_dir_all(&out_dir).unwrap();
}

#[test]
fn completions_for_each_shell() {
    for (shell, needle) in [
        ("bash", "_ctctl()"),
        ("zsh", "#compdef ctctl"),
        ("fish", "complete -c ctctl"),
    ] {
        let out = Command::new(ctctl_bin())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(needle),
            "{shell}: {}",
            &text[..text.len().min(200)]
        );
        assert!(text.contains("filters-from"), "{shell} completes the flags");
    }
}

#[test]
fn dying_and_unconfirmed_lists_and_any_nat_with_an_address() {
    require_root!();
    let ns = Netns::new();
    ns.restore(
        "-I -p tcp -s 192.168.1.11 -d 198.51.100.1 --sport 40000 --dport 80 --state ESTABLISHED -t 300 -u SEEN_REPLY,ASSURED --dst-nat 10.9.9.9\n\
         -I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 53 -t 30\n",
    );
    // Nothing is dying or unconfirmed in a quiet namespace; the lists answer.
    assert_eq!(ns.ctctl_ok(&["list", "--table", "dying"]), "");
    assert_eq!(ns.ctctl_ok(&["list", "--table", "unconfirmed"]), "");
    let v: serde_json::Value =
        serde_json::from_str(ns.ctctl_ok(&["-o", "json", "status", "--quick"]).trim()).unwrap();
    assert_eq!(v["dying"], 0);
    // --any-nat takes an optional address (conntrack's -j [ADDR]).
    assert_eq!(
        crate::harness::list(&ns, &["--any-nat", "10.9.9.9"]).len(),
        1
    );
    assert_eq!(
        crate::harness::list(&ns, &["--any-nat", "10.9.9.8"]).len(),
        0
    );
    assert_eq!(crate::harness::list(&ns, &["--any-nat"]).len(), 1);
    let out = ns.ctctl_out(&["list", "--any-nat", "--src-nat"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `ctctl manpages DIR` as root replaces a planted symlink instead of
/// writing through it.
#[test]
fn manpages_never_write_through_a_symlink() {
    let dir = std::env::temp_dir().join(format!("ctctl-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("precious");
    std::fs::write(&target, "precious\n").unwrap();
    std::os::unix::fs::symlink(&target, dir.join("ctctl-list.1")).unwrap();
    let out = Command::new(ctctl_bin())
        .arg("manpages")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    let page = std::fs::symlink_metadata(dir.join("ctctl-list.1")).unwrap();
    assert!(page.file_type().is_file());
    assert!(std::fs::read_to_string(dir.join("ctctl-expect-list.1"))
        .unwrap()
        .contains("ctctl-expect-list"));
    let _ = std::fs::remove_dir_all(&dir);
}
