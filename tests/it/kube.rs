//! ctctl on a Kubernetes node: the manifests, the OCI image, pods found by
//! their kubelet cgroup and log directory, and the Grafana dashboard's
//! queries against a real Prometheus scraping the exporter.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::harness::{Background, Netns};
use crate::require_root;
use crate::watch::{http_get, needs, prometheus, within};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn docs(path: &str) -> Vec<serde_norway::Value> {
    let text = std::fs::read_to_string(repo().join(path)).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

fn strs(v: &serde_norway::Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_manifests_parse_and_ask_for_only_what_they_need() {
    let exporter = docs("contrib/kubernetes/exporter.yaml");
    let kinds: Vec<&str> = exporter.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        ["Namespace", "DaemonSet", "Service", "ServiceMonitor"]
    );
    let ds = &exporter[1];
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostPID"].as_bool(), Some(true));
    let c = &pod["containers"][0];
    let args = strs(&c["args"]);
    assert_eq!(args[0], "exporter");
    assert!(args.iter().any(|a| a == "--all-netns"), "{args:?}");
    assert!(
        args.iter().any(|a| a.starts_with("--pod-logs-dir=")),
        "{args:?}"
    );
    let caps = &c["securityContext"]["capabilities"];
    assert_eq!(strs(&caps["add"]), ["NET_ADMIN", "SYS_ADMIN"]);
    assert_eq!(strs(&caps["drop"]), ["ALL"]);
    assert_eq!(c["securityContext"]["privileged"].as_bool(), Some(false));
    for (path, probe) in [
        ("/-/ready", "readinessProbe"),
        ("/-/healthy", "livenessProbe"),
    ] {
        assert_eq!(c[probe]["httpGet"]["path"].as_str(), Some(path));
    }
    assert!(c["resources"]["limits"]["memory"].as_str().is_some());
    let mounts: Vec<(String, bool)> = c["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["mountPath"].as_str().unwrap().to_string(),
                m["readOnly"].as_bool() == Some(true),
            )
        })
        .collect();
    assert_eq!(
        mounts,
        [
            ("/run/netns".to_string(), true),
            ("/var/log/pods".to_string(), true)
        ]
    );
    let events = docs("contrib/kubernetes/events.yaml");
    let c = &events[0]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(events[0]["kind"].as_str(), Some("DaemonSet"));
    assert_eq!(strs(&c["args"])[..3], ["-o", "json", "events"]);
    assert_eq!(
        strs(&c["securityContext"]["capabilities"]["add"]),
        ["NET_ADMIN"]
    );
    // Every argument the manifests give, ctctl takes.
    let mut exporter_args = vec!["exporter".to_string()];
    exporter_args.extend(
        strs(&exporter[1]["spec"]["template"]["spec"]["containers"][0]["args"])
            .into_iter()
            .skip(1)
            .filter(|a| !a.starts_with("--listen=")),
    );
    exporter_args.push("--help".into());
    let out = Command::new(crate::harness::ctctl_bin())
        .args(&exporter_args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A cgroup made for the test, removed on drop (its process gone first).
struct Cgroup(PathBuf);

impl Drop for Cgroup {
    fn drop(&mut self) {
        // Innermost first.
        let mut p = self.0.clone();
        while p
            .file_name()
            .is_some_and(|n| n != "cgroup" && n != "unified" && n != "pids")
        {
            let _ = std::fs::remove_dir(&p);
            if !p.pop() {
                break;
            }
        }
    }
}

/// A process in a network namespace of its own, placed in `cgroup`.
fn pod_process(cgroup: &Path) -> (Child, Cgroup) {
    let child = Command::new("unshare")
        .args(["-n", "sleep", "600"])
        .spawn()
        .unwrap();
    let pid = child.id();
    within(5, "the process is in its own namespace", || {
        let mine = std::fs::read_link("/proc/self/ns/net").ok()?;
        let its = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
        (its != mine).then_some(())
    });
    std::fs::create_dir_all(cgroup).unwrap();
    std::fs::write(cgroup.join("cgroup.procs"), pid.to_string()).unwrap();
    (child, Cgroup(cgroup.to_path_buf()))
}

#[test]
fn pods_are_named_from_their_cgroups_and_the_pod_log_directory() {
    require_root!();
    const V2_UID: &str = "0f0e0d0c-aaaa-4bbb-8ccc-123456789abc";
    const V1_UID: &str = "1f1e1d1c-aaaa-4bbb-8ccc-123456789abc";
    let logs = std::env::temp_dir().join(format!("ctctl-pods-{}", std::process::id()));
    std::fs::create_dir_all(logs.join(format!("default_web-1_{V2_UID}"))).unwrap();
    std::fs::create_dir_all(logs.join(format!("kube-system_dns-2_{V1_UID}"))).unwrap();
    // cgroup v2 (systemd driver) where there is a v2 hierarchy, and cgroup
    // v1 (cgroupfs driver) where the pids controller is mounted alone.
    let v2_root = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        PathBuf::from("/sys/fs/cgroup")
    } else {
        PathBuf::from("/sys/fs/cgroup/unified")
    };
    let v2 = v2_root.join(format!(
        "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-ctctl.scope",
        V2_UID.replace('-', "_")
    ));
    let (mut web, _g1) = pod_process(&v2);
    let v1_pids = Path::new("/sys/fs/cgroup/pids");
    let mut dns = None;
    if v1_pids.join("cgroup.procs").exists() {
        dns = Some(pod_process(
            &v1_pids.join(format!("kubepods/besteffort/pod{V1_UID}/ctctl")),
        ));
    }
    let web_pid = web.id();
    // The web pod's address and entries in its table.
    let nsenter = |pid: u32, args: &[&str], input: Option<&str>| {
        let mut c = Command::new("nsenter")
            .arg(format!("--net=/proc/{pid}/ns/net"))
            .args(args)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(i) = input {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(i.as_bytes()).unwrap();
        }
        drop(c.stdin.take());
        assert!(c.wait().unwrap().success(), "{args:?}");
    };
    nsenter(
        web_pid,
        &["ip", "addr", "add", "10.244.9.9/32", "dev", "lo"],
        None,
    );
    nsenter(web_pid, &["ip", "link", "set", "lo", "up"], None);
    nsenter(
        web_pid,
        &["conntrack", "-R", "-"],
        Some(&crate::harness::entries(
            5,
            "-I -p udp -s {ip} -d 10.9.0.1 --sport 1 --dport 53 -t 600",
        )),
    );
    // A node table where the pod's address is a busy source.
    let host = Netns::new();
    host.restore(
        &(1..=3)
            .map(|i| format!("-I -p tcp -s 10.244.9.9 -d 10.0.1.{i} --sport 1 --dport 80 --state ESTABLISHED -t 600\n"))
            .collect::<String>(),
    );
    let mut cmd = Command::new(crate::harness::ctctl_bin());
    cmd.args([
        "exporter",
        "--all-netns",
        "--listen",
        "127.0.0.1:0",
        "--scan-interval",
        "500ms",
    ])
    .arg("--pod-logs-dir")
    .arg(&logs);
    let mut exp = Background::spawn(cmd, Stdio::null());
    let line = exp.wait_stderr("exporter listening", 30);
    let port = crate::harness::listening_port(&line);
    let scrape = || -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    let want = format!(
        "conntrack_entries{{netns=\"pid/{web_pid}\",pod=\"web-1\",namespace=\"default\",pod_uid=\"{V2_UID}\"}} 5"
    );
    within(15, "the pod's namespace is labelled with the pod", || {
        scrape().contains(&want).then_some(())
    });
    if let Some((child, _)) = &dns {
        let want = format!(
            "netns=\"pid/{}\",pod=\"dns-2\",namespace=\"kube-system\",pod_uid=\"{V1_UID}\"",
            child.id()
        );
        within(15, "a cgroup v1 pod too", || {
            scrape().contains(&want).then_some(())
        });
    }
    let src = format!(
        "conntrack_top_source_entries{{netns=\"{}\",src=\"10.244.9.9\",src_pod=\"web-1\",src_namespace=\"default\"}} 3",
        host.name
    );
    within(15, "a pod's address in another table names the pod", || {
        scrape().contains(&src).then_some(())
    });
    exp.signal(nix::sys::signal::Signal::SIGTERM);
    let _ = exp.finish(10);
    // The CLI's count by pod.
    let out = host.ctctl_ok(&[
        "count",
        "--by",
        "pod",
        "--pod-logs-dir",
        logs.to_str().unwrap(),
    ]);
    assert!(out.lines().any(|l| l.trim() == "3 default/web-1"), "{out}");
    let _ = web.kill();
    let _ = web.wait();
    if let Some((mut c, g)) = dns {
        let _ = c.kill();
        let _ = c.wait();
        drop(g);
    }
    let _ = std::fs::remove_dir_all(&logs);
}

#[test]
fn the_dashboard_queries_are_valid_promql_and_name_metrics_the_exporter_serves() {
    require_root!();
    if !needs("prometheus") {
        return;
    }
    let ns = Netns::new();
    ns.restore(&crate::harness::entries(
        20,
        "-I -p tcp -s {ip} -d 10.9.0.1 --sport 1 --dport 80 --state ESTABLISHED -t 600",
    ));
    ns.restore("-I -p tcp -s 10.0.0.1 -d 203.0.113.7 --sport 2000 --dport 443 --src-nat 192.0.2.1:2000 --state ESTABLISHED -t 600\n");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &ns.name])
        .arg(crate::harness::ctctl_bin())
        .args(["exporter", "--listen", "127.0.0.1:9371"]);
    let mut exp = Background::spawn(cmd, Stdio::null());
    exp.wait_stderr("exporter listening", 20);
    let (_, served) = http_get(&ns, 9371, "/metrics", "text/plain").unwrap();
    let _prom = prometheus(&ns, "127.0.0.1:9371");
    within(30, "Prometheus is up", || {
        crate::watch::query(&ns, "up").filter(|v| *v == 1.0)
    });
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("contrib/grafana/ctctl.json")).unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            exprs.push(t["expr"].as_str().unwrap().to_string());
        }
    }
    assert!(exprs.len() >= 14, "{}", exprs.len());
    for e in &exprs {
        let q = e
            .replace("$__rate_interval", "1m")
            .replace("$netns", ".*")
            .replace("$pod", ".*");
        let v = crate::watch::query_json(&ns, &q).unwrap();
        assert_eq!(v["status"], "success", "{q}: {v}");
        // Every metric named is one the exporter serves.
        for name in e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if name.starts_with("conntrack_") {
                assert!(
                    served
                        .lines()
                        .any(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' '])),
                    "{name} (in {e}) is not served"
                );
            }
        }
    }
    exp.signal(nix::sys::signal::Signal::SIGTERM);
    let _ = exp.finish(10);
}

#[test]
fn the_image_is_from_scratch_with_a_static_ctctl_that_lists_a_table() {
    require_root!();
    if !needs("buildah") {
        return;
    }
    // scripts/test.sh builds the image before the tests run (a build of
    // its own here would compete with the other tests for the CPU) and
    // names it in CTCTL_IMAGE; alone, the test builds it.
    let archive = match std::env::var_os("CTCTL_IMAGE") {
        Some(path) => PathBuf::from(path),
        None => {
            let out = Command::new(repo().join("scripts/image.sh"))
                .env("IMAGE_PROFILE", "dev")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            PathBuf::from(
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .lines()
                    .last()
                    .unwrap(),
            )
        }
    };
    let archive = if archive.is_absolute() {
        archive
    } else {
        repo().join(archive)
    };
    let dir = std::env::temp_dir().join(format!("ctctl-image-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    assert!(Command::new("tar")
        .arg("-xf")
        .arg(&archive)
        .arg("-C")
        .arg(&dir)
        .status()
        .unwrap()
        .success());
    // index -> manifest -> config and the one layer.
    let blob = |digest: &str| {
        dir.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    let config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(blob(manifest["config"]["digest"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/ctctl"])
    );
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.title"],
        "ctctl"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "FROM scratch: one layer");
    let root = dir.join("rootfs");
    std::fs::create_dir_all(&root).unwrap();
    assert!(Command::new("tar")
        .arg("-xf")
        .arg(blob(layers[0]["digest"].as_str().unwrap()))
        .arg("-C")
        .arg(&root)
        .status()
        .unwrap()
        .success());
    let bin = root.join("ctctl");
    let elf = Command::new("readelf")
        .arg("-l")
        .arg(&bin)
        .output()
        .unwrap();
    assert!(elf.status.success());
    assert!(
        !String::from_utf8_lossy(&elf.stdout).contains("program interpreter"),
        "the binary is static"
    );
    let ns = Netns::new();
    ns.restore("-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 53 -t 60\n");
    let out = Command::new(&bin)
        .args(["--netns", &ns.name, "list"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("dport=53"));
    let _ = std::fs::remove_dir_all(&dir);
}
