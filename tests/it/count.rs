//! `ctctl count`.

use crate::harness::Netns;
use crate::require_root;

#[test]
fn count_matches_conntrack_c_and_filters() {
    require_root!();
    let ns = Netns::new();
    let mut lines = String::new();
    for i in 0..40 {
        lines += &format!("-I -p udp -s 10.0.1.{i} -d 10.0.0.53 --sport 1000 --dport 53 -t 600\n");
    }
    for i in 0..25 {
        lines += &format!(
            "-I -p tcp -s 10.0.2.{i} -d 10.0.0.80 --sport 2000 --dport 80 --state TIME_WAIT -t 600 -u SEEN_REPLY\n"
        );
    }
    for i in 0..5 {
        lines += &format!(
            "-I -p tcp -s 10.0.3.{i} -d 10.0.0.80 --sport 2000 --dport 80 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED -m 7\n"
        );
    }
    ns.restore(&lines);
    assert_eq!(ns.conntrack(&["-C"]).trim(), "70");
    assert_eq!(ns.ctctl_ok(&["count"]).trim(), "70");
    assert_eq!(ns.ctctl_ok(&["count", "--state", "TIME_WAIT"]).trim(), "25");
    assert_eq!(
        ns.ctctl_ok(&["count", "-p", "udp", "--dport", "53"]).trim(),
        "40"
    );
    assert_eq!(ns.ctctl_ok(&["count", "--mark", "7"]).trim(), "5");

    let by_state = ns.ctctl_ok(&["count", "--by", "state"]);
    assert_eq!(by_state, "40 -\n25 TIME_WAIT\n 5 ESTABLISHED\n");
    let by_proto = ns.ctctl_ok(&["count", "--by", "proto"]);
    assert_eq!(by_proto, "40 udp\n30 tcp\n");
    let by_dport = ns.ctctl_ok(&["count", "--by", "dport", "--top", "1"]);
    assert_eq!(by_dport, "40 53\n");
    let by_dst = ns.ctctl_ok(&["count", "--by", "dst", "-p", "tcp"]);
    assert_eq!(by_dst, "30 10.0.0.80\n");

    let json = ns.ctctl_ok(&["-o", "json", "count", "--by", "mark"]);
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[0], serde_json::json!({"mark": 0, "count": 65}));
    assert_eq!(rows[1], serde_json::json!({"mark": 7, "count": 5}));

    let total: serde_json::Value =
        serde_json::from_str(&ns.ctctl_ok(&["-o", "json", "count"])).unwrap();
    assert_eq!(total["count"], 70);
    assert!(total["max"].as_u64().unwrap() > 0);
}

#[test]
fn count_of_empty_table_is_zero() {
    require_root!();
    let ns = Netns::new();
    assert_eq!(ns.ctctl_ok(&["count"]).trim(), "0");
    assert_eq!(ns.ctctl_ok(&["count", "-p", "tcp"]).trim(), "0");
    assert_eq!(ns.ctctl_ok(&["count", "--by", "state"]), "");
}
