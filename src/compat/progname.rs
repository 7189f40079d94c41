//! Which program caused an event: conntrack -E names the process that owns
//! the netfilter netlink socket an event's port id belongs to
//! (`[USERSPACE] portid=N progname=NAME`). The socket's inode comes from
//! `/proc/net/netlink` (this namespace's sockets); the process is the one
//! with that socket among its file descriptors. A process that has already
//! exited has no name.

use std::path::Path;

/// `NETLINK_NETFILTER`, from `linux/netlink.h`.
const NETLINK_NETFILTER: u32 = 12;

/// The inode of the netfilter netlink socket bound to `portid`, from the
/// text of `/proc/net/netlink` (columns sk, Eth, Pid, Groups, Rmem, Wmem,
/// Dump, Locks, Drops, Inode).
fn socket_inode(table: &str, portid: u32) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let proto: u32 = f.get(1)?.parse().ok()?;
        let pid: u32 = f.get(2)?.parse().ok()?;
        (proto == NETLINK_NETFILTER && pid == portid)
            .then(|| f.get(9)?.parse().ok())
            .flatten()
    })
}

/// Whether process `pid` holds the socket with `inode`.
fn holds(proc_root: &Path, pid: &str, inode: u64) -> bool {
    let want = format!("socket:[{inode}]");
    let Ok(fds) = std::fs::read_dir(proc_root.join(pid).join("fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| target.as_os_str() == want.as_str())
    })
}

fn name_of(proc_root: &Path, pid: &str) -> Option<String> {
    let comm = std::fs::read_to_string(proc_root.join(pid).join("comm")).ok()?;
    Some(comm.trim_end().to_string())
}

/// The owner of socket `inode`: the process whose pid is the port id first
/// (most programs bind their first netlink socket to their pid), then every
/// process.
fn owner(proc_root: &Path, portid: u32, inode: u64) -> Option<String> {
    let first = portid.to_string();
    if holds(proc_root, &first, inode) {
        return name_of(proc_root, &first);
    }
    let dir = std::fs::read_dir(proc_root).ok()?;
    dir.flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|p| p != &first && p.bytes().all(|b| b.is_ascii_digit()))
        .find(|p| holds(proc_root, p, inode))
        .and_then(|p| name_of(proc_root, &p))
}

/// Names port ids, remembering the last answer: events from one program
/// come in runs (a `conntrack -R` of a million lines), and a port id stays
/// with its socket while the socket is open, so a run costs one lookup,
/// not one read of /proc per event.
#[derive(Debug, Default)]
pub struct Prognames {
    last: Option<(u32, Option<String>)>,
}

impl Prognames {
    /// The name of the program behind `portid`, if it still runs.
    pub fn lookup(&mut self, portid: u32) -> Option<String> {
        if let Some((p, name)) = &self.last {
            if *p == portid {
                return name.clone();
            }
        }
        let name = std::fs::read_to_string("/proc/net/netlink")
            .ok()
            .and_then(|table| socket_inode(&table, portid))
            .and_then(|inode| owner(Path::new("/proc"), portid, inode));
        self.last = Some((portid, name.clone()));
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inode_of_a_netfilter_socket_by_port_id() {
        let table = "sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n\
            00000000b5023c8c 0   0          00000000 0        0        0     2        0        4\n\
            000000005691f6f8 12  4242       00000000 0        0        0     2        0        1496\n\
            000000005691f6f9 16  4243       00000000 0        0        0     2        0        1497\n";
        assert_eq!(socket_inode(table, 4242), Some(1496));
        assert_eq!(socket_inode(table, 4243), None, "not NETLINK_NETFILTER");
        assert_eq!(socket_inode(table, 1), None);
    }

    #[test]
    fn names_this_process_for_its_own_netlink_socket() {
        // A netfilter netlink socket of our own, bound by the kernel to a
        // free port id.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_NETFILTER as i32,
            )
        };
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        let len = std::mem::size_of::<libc::sockaddr_nl>() as u32;
        let rc = unsafe { libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len) };
        assert_eq!(rc, 0);
        let mut got: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        let mut glen = len;
        let rc =
            unsafe { libc::getsockname(fd, &mut got as *mut _ as *mut libc::sockaddr, &mut glen) };
        assert_eq!(rc, 0);
        let me = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert_eq!(
            Prognames::default().lookup(got.nl_pid).as_deref(),
            Some(me.trim_end())
        );
        unsafe { libc::close(fd) };
        assert_eq!(
            Prognames::default().lookup(got.nl_pid),
            None,
            "closed: gone"
        );
    }
}
