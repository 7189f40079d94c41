//! Entering a network namespace by name (`/run/netns/NAME`, as `ip netns`
//! makes them) or by path (`/proc/PID/ns/net`, a bind mount).
//!
//! A netlink socket belongs to the namespace of the thread that created it,
//! and `/proc/sys/net` shows the namespace of the thread that opens it, so
//! the CLI enters the namespace on its main thread before doing anything,
//! and the library opens sockets on a helper thread that enters it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use nix::sched::{setns, CloneFlags};

/// Where `ip netns` keeps named namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

pub use crate::error::NetnsError;

/// The file of a namespace given by name or path: a value with a `/` is a
/// path, anything else a name under [`NETNS_RUN_DIR`].
pub fn resolve(name_or_path: &str) -> PathBuf {
    if name_or_path.contains('/') {
        PathBuf::from(name_or_path)
    } else {
        Path::new(NETNS_RUN_DIR).join(name_or_path)
    }
}

/// Moves the calling thread into the network namespace `name_or_path`.
pub fn enter(name_or_path: &str) -> Result<(), NetnsError> {
    let path = resolve(name_or_path);
    let file = File::open(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => NetnsError::NotFound {
            name: name_or_path.to_string(),
            path: path.clone(),
        },
        io::ErrorKind::PermissionDenied => NetnsError::Permission { path: path.clone() },
        _ => NetnsError::Other {
            path: path.clone(),
            error: e,
        },
    })?;
    setns(&file, CloneFlags::CLONE_NEWNET).map_err(|errno| match errno {
        nix::errno::Errno::EPERM => NetnsError::Permission { path: path.clone() },
        other => NetnsError::Other {
            path: path.clone(),
            error: io::Error::from(other),
        },
    })
}

/// Runs `f` on a new thread that has entered the namespace, and returns
/// its result. Whatever `f` creates there (sockets) stays in that namespace.
pub fn run_in<T, F>(name_or_path: &str, f: F) -> Result<T, NetnsError>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            enter(name_or_path)?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}
