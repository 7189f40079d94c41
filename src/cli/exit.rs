//! Exit codes, and the one place that turns errors into them and into
//! messages that say what to do.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (also: stdout closed early, as in `ctctl list \| head`) |
//! | 1 | nothing matched where a match was asked for (`get`, `wait`) |
//! | 2 | usage error or runtime error |
//! | 3 | permission denied (needs CAP_NET_ADMIN in the network namespace) |
//!
//! `status --check` uses the Nagios plugin codes instead: 0 ok, 1 warning,
//! 2 critical.

use std::io;

/// Success.
pub const OK: i32 = 0;
/// Nothing matched where a match was asked for.
pub const NOT_FOUND: i32 = 1;
/// Usage or runtime error.
pub const ERROR: i32 = 2;
/// Permission denied.
pub const PERMISSION: i32 = 3;

/// The exit code and message (without the `ctctl: ` prefix) for an error;
/// `None` as message means exit quietly.
pub fn classify(err: &anyhow::Error) -> (i32, Option<String>) {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<io::Error>() {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return (OK, None);
            }
        }
        if let Some(e) = cause.downcast_ref::<crate::tune::set::PlanError>() {
            let code = if e.permission { PERMISSION } else { ERROR };
            return (code, Some(format!("{err:#}")));
        }
        // ctctl::Error is transparent over these, so look inside it too.
        let (netns, netlink) = match cause.downcast_ref::<crate::error::Error>() {
            Some(crate::error::Error::Netns(e)) => (Some(e), None),
            Some(crate::error::Error::Netlink(e)) => (None, Some(e)),
            _ => (
                cause.downcast_ref::<crate::netns::NetnsError>(),
                cause.downcast_ref::<ctctl_netlink::Error>(),
            ),
        };
        if let Some(e) = netns {
            let code = match e {
                crate::netns::NetnsError::Permission { .. } => PERMISSION,
                _ => ERROR,
            };
            return (code, Some(format!("{err:#}")));
        }
        if let Some(e) = netlink {
            return classify_netlink(err, e);
        }
    }
    (ERROR, Some(format!("{err:#}")))
}

fn classify_netlink(err: &anyhow::Error, e: &ctctl_netlink::Error) -> (i32, Option<String>) {
    let msg = format!("{err:#}");
    match e.errno() {
        Some(libc::EPERM) | Some(libc::EACCES) => (
            PERMISSION,
            Some(format!(
                "{msg}: needs CAP_NET_ADMIN in this network namespace (run as root)"
            )),
        ),
        Some(libc::EPROTONOSUPPORT) | Some(libc::EAFNOSUPPORT) => (
            ERROR,
            Some(format!(
                "{msg}: this kernel has no netfilter netlink (CONFIG_NETFILTER_NETLINK)"
            )),
        ),
        Some(libc::EOPNOTSUPP) if e.op() == "filtered dump" => (
            ERROR,
            Some(format!(
                "{msg}: this kernel rejects a filter attribute this dump carries; \
                 `ctctl probe` shows what it was proved to honour"
            )),
        ),
        Some(libc::EOPNOTSUPP) if e.op() == "dump" || e.op() == "stats" => (
            ERROR,
            Some(format!(
                "{msg}: ctnetlink is not available; load it with `modprobe nf_conntrack_netlink`"
            )),
        ),
        _ => (ERROR, Some(msg)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eopnotsupp_tells_a_rejected_filter_from_a_missing_module() {
        let err = |op| {
            anyhow::Error::new(ctctl_netlink::Error::Kernel {
                op,
                errno: libc::EOPNOTSUPP,
            })
        };
        let (code, msg) = classify(&err("filtered dump"));
        assert_eq!(code, ERROR);
        assert!(msg.unwrap().contains("rejects a filter"));
        let (_, msg) = classify(&err("dump"));
        assert!(msg.unwrap().contains("modprobe nf_conntrack_netlink"));
    }
}
