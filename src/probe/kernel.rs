//! The probe's table in the real kernel: a socket in a private network
//! namespace made for the probe (`unshare(CLONE_NEWNET)` on a thread of
//! its own, gone when the thread ends), so nothing of the host's table is
//! touched.

use std::ops::ControlFlow;

use ctctl_netlink::conntrack::{Flow, KernelFilter, RequestBuf};
use ctctl_netlink::header::IPCTNL_MSG_CT_NEW;
use ctctl_netlink::Socket;

use super::shape::{self, Outcome, ProbeTable, Shape};
/// The probe's table, on a bare socket (the probe sits below the
/// [`Conntrack`](crate::conntrack::Conntrack) handle, which asks it what to send).
struct KernelTable {
    sock: Socket,
}

impl ProbeTable for KernelTable {
    fn create(&mut self, entries: &[Flow<'static>]) -> Result<(), String> {
        let opts = ctctl_netlink::conntrack::request::CreateOptions {
            src_nat: None,
            dst_nat: None,
            or_update: false,
            ack: true,
            exact_status: false,
        };
        for f in entries {
            let mut req = RequestBuf::new();
            let seq = self.sock.next_seq();
            ctctl_netlink::conntrack::request::create(&mut req, seq, f, &opts);
            match self
                .sock
                .transact(&req, "probe create", |_| Ok(ControlFlow::Continue(())))
            {
                Ok(()) => {}
                Err(e) if e.errno() == Some(libc::EEXIST) => {}
                Err(e) => return Err(format!("creating a probe entry: {e}")),
            }
        }
        Ok(())
    }

    fn dump(&mut self, filter: &KernelFilter) -> Result<Vec<Flow<'static>>, i32> {
        let mut req = RequestBuf::new();
        ctctl_netlink::conntrack::request::dump(&mut req, self.sock.next_seq(), filter);
        let mut out = Vec::new();
        self.sock
            .transact(&req, "probe dump", |msg| {
                if msg.header.msg() == IPCTNL_MSG_CT_NEW {
                    let f = Flow::decode(msg).map_err(ctctl_netlink::Error::decode("probe"))?;
                    out.push(f.into_owned());
                }
                Ok(ControlFlow::Continue(()))
            })
            .map_err(|e| e.errno().unwrap_or(libc::EIO))?;
        Ok(out)
    }

    fn flush(&mut self, filter: &KernelFilter) -> Result<(), i32> {
        let mut req = RequestBuf::new();
        ctctl_netlink::conntrack::request::flush(&mut req, self.sock.next_seq(), filter);
        self.sock
            .transact(&req, "probe flush", |_| Ok(ControlFlow::Continue(())))
            .map_err(|e| e.errno().unwrap_or(libc::EIO))
    }

    fn lookup(&mut self, entries: &[Flow<'static>]) -> Result<Vec<Option<Flow<'static>>>, String> {
        entries
            .iter()
            .map(|f| {
                let orig = ctctl_netlink::conntrack::Tuple {
                    zone: f.orig.zone,
                    ..f.orig
                };
                let mut req = RequestBuf::new();
                ctctl_netlink::conntrack::request::get(
                    &mut req,
                    self.sock.next_seq(),
                    &orig,
                    f.zone,
                );
                let mut found = None;
                let r = self.sock.transact(&req, "probe get", |msg| {
                    if msg.header.msg() == IPCTNL_MSG_CT_NEW {
                        let e = Flow::decode(msg).map_err(ctctl_netlink::Error::decode("probe"))?;
                        found = Some(e.into_owned());
                    }
                    Ok(ControlFlow::Continue(()))
                });
                match r {
                    Ok(()) => Ok(found),
                    Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
                    Err(e) => Err(format!("looking up a probe entry: {e}")),
                }
            })
            .collect()
    }

    fn clear(&mut self) -> Result<(), String> {
        // The private namespace holds only the probe's entries.
        self.flush(&KernelFilter::default())
            .map_err(|e| format!("emptying the probe table: errno {e}"))
    }
}

/// Runs the experiments of `shapes` in a new private network namespace.
/// `Err` when the probe cannot run there (no `CAP_SYS_ADMIN`, no
/// ctnetlink, a table that does not come back as made).
pub fn run(shapes: Vec<Shape>) -> Result<Vec<Outcome>, String> {
    std::thread::spawn(move || -> Result<Vec<Outcome>, String> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| match e {
            nix::errno::Errno::EPERM => {
                "making a private network namespace needs CAP_SYS_ADMIN".to_string()
            }
            e => format!("cannot make a private network namespace: {e}"),
        })?;
        let sock = Socket::open().map_err(|e| format!("ctnetlink socket: {e}"))?;
        let mut table = KernelTable { sock };
        shapes.iter().map(|s| shape::run(&mut table, s)).collect()
    })
    .join()
    .unwrap_or_else(|_| Err("the probe thread panicked".to_string()))
}
