//! Classic BPF socket filters for event sockets: unwanted events are
//! dropped in the kernel before they take room in the receive buffer
//! (as libnetfilter_conntrack's `nfct_filter_attach` does).
//!
//! The program walks the ctnetlink attributes with the `SKF_AD_NLATTR` /
//! `SKF_AD_NLATTR_NEST` extensions. Whatever it cannot tell (an attribute
//! missing) it accepts: the userspace filter decides those.

use std::io;
use std::os::fd::AsRawFd;

use crate::conntrack::attribute::{CTA_PROTO_NUM, CTA_TUPLE_ORIG, CTA_TUPLE_PROTO};
use crate::header::{NFGENMSG_LEN, NLMSG_HDRLEN};

/// `struct sock_filter`, from `linux/filter.h`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode (`BPF_LD | BPF_W | BPF_ABS`, ...).
    pub code: u16,
    /// Jump offset when the condition holds.
    pub jt: u8,
    /// Jump offset when it does not.
    pub jf: u8,
    /// Immediate operand.
    pub k: u32,
}

// Opcodes, from linux/bpf_common.h.
const BPF_LD: u16 = 0x00;
const BPF_LDX: u16 = 0x01;
const BPF_JMP: u16 = 0x05;
const BPF_RET: u16 = 0x06;
const BPF_MISC: u16 = 0x07;
const BPF_W: u16 = 0x00;
const BPF_B: u16 = 0x10;
const BPF_IMM: u16 = 0x00;
const BPF_ABS: u16 = 0x20;
const BPF_IND: u16 = 0x40;
const BPF_JEQ: u16 = 0x10;
const BPF_K: u16 = 0x00;
const BPF_TAX: u16 = 0x00;

/// `SKF_AD_OFF`, `SKF_AD_NLATTR`, `SKF_AD_NLATTR_NEST`, from `linux/filter.h`.
const SKF_AD_OFF: i32 = -0x1000;
const SKF_AD_NLATTR: i32 = 12;
const SKF_AD_NLATTR_NEST: i32 = 16;

const ACCEPT: u32 = 0xffff_ffff;
const DROP: u32 = 0;

fn stmt(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn { code, jt, jf, k }
}

/// What an event must carry to be delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// `nfgenmsg.nfgen_family` (`AF_INET`, `AF_INET6`).
    pub family: Option<u8>,
    /// `CTA_TUPLE_ORIG/CTA_TUPLE_PROTO/CTA_PROTO_NUM`.
    pub proto: Option<u8>,
}

impl EventFilter {
    /// Whether the filter lets everything through.
    pub fn is_empty(&self) -> bool {
        self.family.is_none() && self.proto.is_none()
    }

    /// The BPF program.
    pub fn program(&self) -> Vec<Insn> {
        let mut p = Vec::new();
        if let Some(family) = self.family {
            // A = nfgen_family (first byte after nlmsghdr)
            p.push(stmt(BPF_LD | BPF_B | BPF_ABS, NLMSG_HDRLEN as u32));
            p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, family as u32, 1, 0));
            p.push(stmt(BPF_RET | BPF_K, DROP));
        }
        if let Some(proto) = self.proto {
            // The extensions take the attribute type in X and the offset
            // to search from in A, and leave the attribute's offset in A
            // (0: not found).
            let attrs = (NLMSG_HDRLEN + NFGENMSG_LEN) as u32;
            p.push(stmt(BPF_LD | BPF_W | BPF_IMM, attrs));
            p.push(stmt(BPF_LDX | BPF_W | BPF_IMM, CTA_TUPLE_ORIG as u32));
            p.push(stmt(
                BPF_LD | BPF_W | BPF_ABS,
                (SKF_AD_OFF + SKF_AD_NLATTR) as u32,
            ));
            // Not found: accept (userspace decides).
            p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, 0, NOT_FOUND, 0));
            // Then, inside it, CTA_TUPLE_PROTO and inside that CTA_PROTO_NUM.
            for nested in [CTA_TUPLE_PROTO, CTA_PROTO_NUM] {
                p.push(stmt(BPF_LDX | BPF_W | BPF_IMM, nested as u32));
                p.push(stmt(
                    BPF_LD | BPF_W | BPF_ABS,
                    (SKF_AD_OFF + SKF_AD_NLATTR_NEST) as u32,
                ));
                p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, 0, NOT_FOUND, 0));
            }
            p.push(stmt(BPF_MISC | BPF_TAX, 0));
            // A = the protocol byte, after the 4-byte attribute header
            p.push(stmt(BPF_LD | BPF_B | BPF_IND, 4));
            p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, proto as u32, 1, 0));
            p.push(stmt(BPF_RET | BPF_K, DROP));
        }
        p.push(stmt(BPF_RET | BPF_K, ACCEPT));
        fix_accept_jumps(&mut p);
        p
    }

    /// Attaches the program to a socket (`SO_ATTACH_FILTER`).
    ///
    /// # Errors
    ///
    /// When the kernel refuses the filter (`setsockopt`), with its errno.
    pub fn attach(&self, sock: &impl AsRawFd) -> io::Result<()> {
        let prog = self.program();
        let fprog = libc::sock_fprog {
            len: prog.len() as u16,
            filter: prog.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: fprog points at `prog`, alive for the call; Insn has the
        // layout of struct sock_filter.
        let r = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&fprog as *const libc::sock_fprog).cast(),
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

/// Placeholder jump offset of the "not found: accept" jumps, resolved by
/// [`fix_accept_jumps`] once the program is complete.
const NOT_FOUND: u8 = 0xff;

/// Points the "not found" jumps at the final `ret ACCEPT`.
fn fix_accept_jumps(p: &mut [Insn]) {
    let last = p.len() - 1;
    for (i, insn) in p.iter_mut().enumerate() {
        if insn.code == BPF_JMP | BPF_JEQ | BPF_K && insn.jt == NOT_FOUND {
            insn.jt = (last - i - 1) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_filter_accepts_everything() {
        let p = EventFilter::default().program();
        assert_eq!(p, vec![stmt(BPF_RET | BPF_K, ACCEPT)]);
    }

    #[test]
    fn not_found_jumps_land_on_accept() {
        let p = EventFilter {
            family: Some(2),
            proto: Some(6),
        }
        .program();
        let last = p.len() - 1;
        for (i, insn) in p.iter().enumerate() {
            if insn.code == BPF_JMP | BPF_JEQ | BPF_K && insn.k == 0 && insn.jt > 1 {
                assert_eq!(i + 1 + insn.jt as usize, last);
                assert_eq!(p[last].k, ACCEPT);
            }
        }
    }
}
