//! Entering a network namespace by name (`/run/netns/NAME`, as `ip netns`
//! makes them) or by path (`/proc/PID/ns/net`, a bind mount).
//!
//! A netlink socket belongs to the namespace of the thread that created it,
//! and `/proc/sys/net` shows the namespace of the thread that opens it, so
//! the CLI enters the namespace on its main thread before doing anything,
//! and the library opens sockets on a helper thread that enters it.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
///
/// # Errors
///
/// When the namespace cannot be opened or entered (entering needs
/// `CAP_SYS_ADMIN`); the error names it.
pub fn enter(name_or_path: &str) -> Result<(), NetnsError> {
    Netns::open(name_or_path)?.enter()
}

/// Runs `f` on a new thread that has entered the namespace, and returns
/// its result. Whatever `f` creates there (sockets) stays in that namespace.
///
/// # Errors
///
/// When the namespace cannot be opened or entered (entering needs
/// `CAP_SYS_ADMIN`); the error names it.
pub fn run_in<T, F>(name_or_path: &str, f: F) -> Result<T, NetnsError>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    Netns::open(name_or_path)?.run(f)
}

/// A network namespace held open: its file descriptor, taken once. Sockets
/// opened later through it land in that very namespace, even after
/// `ip netns del` removed its name or another namespace took the name (the
/// kernel keeps a namespace alive while a descriptor of it is open).
#[derive(Debug, Clone)]
pub struct Netns {
    fd: Arc<OwnedFd>,
    label: String,
}

impl Netns {
    /// Opens a namespace by name (`/run/netns/NAME`) or path
    /// (`/proc/PID/ns/net`).
    ///
    /// # Errors
    ///
    /// [`NetnsError::NotFound`] when there is no such file,
    /// [`NetnsError::Permission`] without the right to open it.
    pub fn open(name_or_path: &str) -> Result<Netns, NetnsError> {
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
        Ok(Netns {
            fd: Arc::new(OwnedFd::from(file)),
            label: path.display().to_string(),
        })
    }

    /// A namespace from a descriptor the caller already holds (from
    /// `pidfd`, a container runtime, `/proc/PID/ns/net` opened earlier).
    /// Whether it is a network namespace shows at the first use.
    pub fn from_fd(fd: OwnedFd) -> Netns {
        Netns {
            fd: Arc::new(fd),
            label: "a namespace descriptor".to_string(),
        }
    }

    /// Moves the calling thread into the namespace.
    fn enter(&self) -> Result<(), NetnsError> {
        let path = PathBuf::from(&self.label);
        setns(self.fd.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|errno| match errno {
            nix::errno::Errno::EPERM => NetnsError::Permission { path: path.clone() },
            other => NetnsError::Other {
                path,
                error: io::Error::from(other),
            },
        })
    }

    /// Runs `f` on a new thread that has entered the namespace, and returns
    /// its result; what `f` creates there (sockets) stays in the namespace.
    ///
    /// # Errors
    ///
    /// [`NetnsError::Permission`] without `CAP_SYS_ADMIN`;
    /// [`NetnsError::Other`] when the descriptor is not a network namespace.
    pub fn run<T, F>(&self, f: F) -> Result<T, NetnsError>
    where
        T: Send,
        F: FnOnce() -> T + Send,
    {
        std::thread::scope(|s| {
            s.spawn(|| {
                self.enter()?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }
}
