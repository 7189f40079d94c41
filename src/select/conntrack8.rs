//! What conntrack 1.4.7 selects for a command line: its userspace filter
//! (`nfct_filter`: NAT, mark, labels, networks, then libnetfilter_conntrack's
//! `nfct_cmp` of the template with each entry) and the kernel filter it
//! sends with its dumps (mark, family, status), as a [`Selection`] the
//! engine streams with.
//!
//! It reproduces 1.4.7 attribute by attribute, with one rule on top: where
//! 1.4.7's selection is a bug, the face selects *less*, never more. Each
//! such narrowing is marked `Narrowed:` here and listed in the README:
//! - `--orig-zone` / `--reply-zone` compare only the zone inside the tuple,
//!   so `--orig-zone 0` also matches an entry whose zone 5 applies to both
//!   directions; the face also requires the kernel's zone of that direction.
//! - `--src-nat` / `--dst-nat` with an IPv6 address check no address in
//!   `filter_nat` (it reads only `ATTR_SNAT_IPV4`): any NATed flow matches;
//!   the face compares the address.
//! - GRE keys are never compared by `nfct_cmp` (`cmp_orig_l4proto` knows
//!   ports only for TCP, UDP, UDP-Lite, DCCP and SCTP); the face compares them.
//! - `-D --status` compares only the bits to be set (`-D` sends no kernel
//!   status filter), so `-D -u UNREPLIED` and `-D -u '!ASSURED'` delete
//!   every entry; the face also requires the excluded bits clear.
//! - `--any-nat ADDR` with another filter compares the original source
//!   with a value conntrack never set (`opt2family_attr['j']` is missing);
//!   the face selects nothing then.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use ctctl_netlink::conntrack::{proto, Flow, KernelFilter, ProtoInfo, Tuple};

use crate::format::conntrack8::command::{ips, Command, Template};
use crate::format::conntrack8::options::{opt, Command as Cmd};
use crate::select::plan::Criteria;
use crate::select::plan::KernelPlan;
use crate::select::selection::Selection;

/// Which of conntrack's callbacks the selection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// `-L` on the table: kernel filter (mark, family, status) and
    /// `nfct_filter` with networks.
    List,
    /// `-L dying` / `-L unconfirmed`: `nfct_filter` without networks.
    Lists,
    /// `-D`: kernel filter (mark, family) and `nfct_filter` with networks.
    Delete,
    /// `-U`: `mnl_nfct_update_cb`'s checks (no mark, status or state
    /// filter: those are the new values).
    Update,
    /// `-G`: `nfct_filter` on the entry the kernel returned.
    Get,
    /// `-E`: the event's family and `nfct_filter` with networks.
    Event,
}

/// A network criterion from `--mask-src` / `--mask-dst` (or a prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    network: IpAddr,
    mask: IpAddr,
}

fn and(a: IpAddr, m: IpAddr) -> Option<IpAddr> {
    Some(match (a, m) {
        (IpAddr::V4(a), IpAddr::V4(m)) => IpAddr::V4((u32::from(a) & u32::from(m)).into()),
        (IpAddr::V6(a), IpAddr::V6(m)) => IpAddr::V6((u128::from(a) & u128::from(m)).into()),
        _ => return None,
    })
}

/// conntrack 1.4.7's selection for one command line.
#[derive(Debug)]
pub struct Selection8 {
    use_: Use,
    options: u32,
    family: u8,
    /// The template, with the exact addresses a network replaces removed
    /// (`nfct_filter_init`).
    tmpl: Template,
    nets: [Option<Net>; 2],
    mark: (u32, u32),
    kernel_mark: Option<(u32, u32)>,
    kernel_status: Option<(u32, u32)>,
    labels: Option<Vec<u32>>,
    left_out: AtomicU64,
}

impl Selection8 {
    /// The selection `c` makes for `use_`. For the uses that call
    /// `nfct_filter_init`, a mask without its address is conntrack's
    /// error, returned as `Err` with its message.
    ///
    /// # Errors
    ///
    /// conntrack 1.4.7's message when the options cannot select as given.
    pub fn new(c: &Command, use_: Use) -> Result<Selection8, String> {
        let mut tmpl = c.tmpl.clone();
        let mut nets = [None, None];
        if matches!(use_, Use::List | Use::Delete | Use::Update | Use::Event) {
            for (i, (bit, need, name)) in [
                (opt::MASK_SRC, opt::ORIG_SRC, "--mask-src without --src"),
                (opt::MASK_DST, opt::ORIG_DST, "--mask-dst without --dst"),
            ]
            .into_iter()
            .enumerate()
            {
                if c.options & bit == 0 {
                    continue;
                }
                if c.options & need == 0 {
                    return Err(format!("Can't use {name}"));
                }
                let addr = if i == 0 {
                    tmpl.orig.src.take()
                } else {
                    tmpl.orig.dst.take()
                };
                let mask = if i == 0 {
                    c.exp.mask.src
                } else {
                    c.exp.mask.dst
                };
                // conntrack reads both as the command's family; an address
                // of the other family cannot be masked and matches nothing.
                // Both are of the command's family (set_family saw to it).
                nets[i] = addr
                    .zip(mask)
                    .and_then(|(a, m)| and(a, m).map(|network| Net { network, mask: m }));
            }
        }
        Ok(Selection8 {
            use_,
            options: c.options,
            family: c.family,
            tmpl,
            nets,
            mark: c.mark,
            kernel_mark: c.kernel_mark,
            kernel_status: c.kernel_status,
            labels: c.labels.clone(),
            left_out: AtomicU64::new(0),
        })
    }

    /// The kernel's part, as conntrack sends it (userspace-modelled here,
    /// so it holds whatever the kernel does with the request).
    fn kernel(&self, f: &Flow<'_>) -> bool {
        let status = f.status.map_or(0, |s| s.0);
        let mark = f.mark.unwrap_or(0);
        // Every dump carries the command's family (nfct_mnl_dump), which
        // the kernel applies; -L adds mark and status, -D the mark.
        let (with_mark, with_status) = match self.use_ {
            Use::List => (true, true),
            Use::Delete => (true, false),
            Use::Lists | Use::Update => (false, false),
            Use::Get | Use::Event => return true,
        };
        (self.family == 0 || f.family == self.family)
            && (!with_mark || self.kernel_mark.is_none_or(|(v, m)| mark & m == v))
            && (!with_status || self.kernel_status.is_none_or(|(v, m)| status & m == v))
    }

    /// The kernel filter conntrack 1.4.7 sends with its dump for this
    /// selection (family, and for `-L` and `-D` the mark, for `-L` the
    /// status).
    pub fn request_1_4_7(&self) -> KernelFilter {
        KernelFilter {
            family: self.family,
            mark: match self.use_ {
                Use::List | Use::Delete => self.kernel_mark,
                _ => None,
            },
            status: match self.use_ {
                Use::List => self.kernel_status,
                _ => None,
            },
            ..KernelFilter::default()
        }
    }

    /// What conntrack 1.4.7 itself selects.
    pub fn selected_by_1_4_7(&self, f: &Flow<'_>) -> bool {
        match self.use_ {
            Use::List | Use::Delete => self.kernel(f) && self.nfct_filter(f, true),
            Use::Lists => self.kernel(f) && self.nfct_filter(f, false),
            Use::Get => self.nfct_filter(f, false),
            Use::Event => {
                (self.family == 0 || self.family == f.family) && self.nfct_filter(f, true)
            }
            Use::Update => self.kernel(f) && self.update_filter(f),
        }
    }

    fn matches_inner(&self, f: &Flow<'_>) -> bool {
        if !self.selected_by_1_4_7(f) {
            return false;
        }
        if !self.narrowed(f) {
            self.left_out.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// How many entries 1.4.7 would have selected that the face left out
    /// (the narrowings in the module docs).
    pub fn left_out(&self) -> u64 {
        self.left_out.load(Ordering::Relaxed)
    }

    /// `nfct_filter`: NAT, mark, labels, networks, then the template.
    fn nfct_filter(&self, f: &Flow<'_>, nets: bool) -> bool {
        if !self.nat(f) || !self.mark_ok(f) || !self.labels_ok(f) {
            return false;
        }
        if nets && !self.networks(f) {
            return false;
        }
        if self.options & opt::COMPARISON != 0 && !self.cmp_all(f) {
            return false;
        }
        true
    }

    /// `mnl_nfct_update_cb`'s checks before it updates an entry.
    fn update_filter(&self, f: &Flow<'_>) -> bool {
        if !self.nat(f) || !self.labels_ok(f) || !self.networks(f) {
            return false;
        }
        if let (Some(a), Some(b)) = (self.tmpl.id, f.id) {
            if a != b {
                return false;
            }
        }
        // NFCT_CMP_ORIG / _REPL without NFCT_CMP_MASK: an attribute the
        // entry lacks counts as equal (dumped entries have them all).
        if self.options & opt::TUPLE_ORIG != 0 && !self.cmp_orig(f, false) {
            return false;
        }
        if self.options & opt::TUPLE_REPL != 0 && !self.cmp_repl(f, false) {
            return false;
        }
        true
    }

    fn mark_ok(&self, f: &Flow<'_>) -> bool {
        if self.options & opt::MARK == 0 {
            return true;
        }
        let (v, m) = self.mark;
        f.mark.is_some_and(|mark| mark & m == v)
    }

    fn labels_ok(&self, f: &Flow<'_>) -> bool {
        let Some(want) = &self.labels else {
            return true;
        };
        let Some(have) = &f.labels else { return false };
        let set: Vec<u32> = have.bits().collect();
        want.iter().all(|b| set.contains(b))
    }

    fn networks(&self, f: &Flow<'_>) -> bool {
        let masked = [opt::MASK_SRC, opt::MASK_DST];
        for ((net, addr), bit) in self.nets.iter().zip([f.orig.src, f.orig.dst]).zip(masked) {
            if self.options & bit == 0
                || !matches!(
                    self.use_,
                    Use::List | Use::Delete | Use::Update | Use::Event
                )
            {
                continue;
            }
            let Some(net) = net else { return false };
            if f.family != self.family {
                return false;
            }
            let hit = addr
                .and_then(|a| and(a, net.mask))
                .is_some_and(|a| a == net.network);
            if !hit {
                return false;
            }
        }
        true
    }

    /// `filter_nat` with libnetfilter_conntrack's `NFCT_GOPT_IS_*`.
    fn nat(&self, f: &Flow<'_>) -> bool {
        self.nat_with(f, false)
    }

    /// `filter_nat`; with `v6`, an IPv6 NAT address is compared too.
    fn nat_with(&self, f: &Flow<'_>, v6: bool) -> bool {
        let any = self.options & opt::ANY_NAT != 0;
        let want_s = self.options & opt::SRC_NAT != 0 || any;
        let want_d = self.options & opt::DST_NAT != 0 || any;
        if !want_s && !want_d {
            return true;
        }
        let status = f.status.map(|s| s.0);
        let done = |bit: u32| status.is_none_or(|s| s & bit != 0);
        let v4 = |a: Option<IpAddr>| match a {
            Some(IpAddr::V4(v)) => Some(u32::from(v)),
            _ => None,
        };
        let is_snat = done(ips::SRC_NAT_DONE) && f.reply.dst != f.orig.src;
        let is_dnat = done(ips::DST_NAT_DONE) && f.reply.src != f.orig.dst;
        let is_spat = done(ips::SRC_NAT_DONE) && l4dst(&f.reply) != l4src(&f.orig);
        let is_dpat = done(ips::DST_NAT_DONE) && l4src(&f.reply) != l4dst(&f.orig);
        let side = |addr: Option<IpAddr>,
                    port: Option<u16>,
                    is_nat: bool,
                    is_pat: bool,
                    entry_addr: Option<IpAddr>,
                    entry_port: u16| {
            let mut has = false;
            // Only an IPv4 address is checked (ATTR_SNAT_IPV4/DNAT_IPV4).
            let check_address = matches!(addr, Some(IpAddr::V4(_)));
            if check_address {
                // ATTR_REPL_IPV4_DST of an IPv6 entry reads as 0.
                let entry = v4(entry_addr).unwrap_or(0);
                has = is_nat && v4(addr) == Some(entry);
            }
            let check_port = port.is_some();
            if let Some(p) = port {
                let ret = is_pat && p == entry_port;
                if check_address && has && !ret {
                    has = false;
                }
                if !check_address && ret {
                    has = true;
                }
            }
            if !check_address && !check_port && (is_nat || is_pat) {
                has = true;
            }
            // Narrowed: an IPv6 address is compared too.
            if let (true, Some(a @ IpAddr::V6(_))) = (v6, addr) {
                has = has && entry_addr == Some(a);
            }
            has
        };
        let t = &self.tmpl;
        let has_s = want_s
            && side(
                t.snat,
                t.snat_port,
                is_snat,
                is_spat,
                f.reply.dst,
                l4dst(&f.reply),
            );
        let has_d = want_d
            && side(
                t.dnat,
                t.dnat_port,
                is_dnat,
                is_dpat,
                f.reply.src,
                l4src(&f.reply),
            );
        if any {
            has_s || has_d
        } else if want_s && want_d {
            has_s && has_d
        } else if want_s {
            has_s
        } else {
            has_d
        }
    }

    /// `nfct_cmp(tmpl, ct, NFCT_CMP_ALL | NFCT_CMP_MASK)`.
    fn cmp_all(&self, f: &Flow<'_>) -> bool {
        self.cmp_meta(f) && self.cmp_orig(f, true) && self.cmp_repl(f, true)
    }

    fn cmp_meta(&self, f: &Flow<'_>) -> bool {
        let t = &self.tmpl;
        // Strict attributes: the entry must have them.
        if t.id.is_some() && f.id != t.id {
            return false;
        }
        if t.timeout.is_some() && f.timeout != t.timeout {
            return false;
        }
        if let Some(s) = t.status {
            match f.status {
                Some(es) if es.0 & s == s => {}
                _ => return false,
            }
        }
        let state = |p: u8| match &f.proto_info {
            Some(info) if info.proto() == p => info.state(),
            _ => None,
        };
        if t.tcp_state.is_some() && state(proto::TCP) != t.tcp_state {
            return false;
        }
        if t.sctp_state.is_some() && state(proto::SCTP) != t.sctp_state {
            return false;
        }
        if t.dccp_state.is_some() && state(proto::DCCP) != t.dccp_state {
            return false;
        }
        // ATTR_ZONE is not strict: an entry without CTA_ZONE is zone 0.
        if let Some(z) = t.zone {
            if f.zone.unwrap_or(0) != z {
                return false;
            }
        }
        true
    }

    fn cmp_orig(&self, f: &Flow<'_>, strict: bool) -> bool {
        let t = &self.tmpl;
        let d = &t.orig;
        if d.l3.is_some() && Some(f.family) != d.l3 {
            return false;
        }
        if let Some(p) = d.l4 {
            if f.orig.proto != Some(p) {
                return false;
            }
            if !self.l4_fields(f, &f.orig, d.sport, d.dport, p, strict) {
                return false;
            }
        }
        if !addr_eq(d.src, f.orig.src, strict) || !addr_eq(d.dst, f.orig.dst, strict) {
            return false;
        }
        if t.any_nat_clobbered {
            return false;
        }
        if let Some(z) = d.zone {
            if f.orig.zone.unwrap_or(0) != z {
                return false;
            }
        }
        true
    }

    fn cmp_repl(&self, f: &Flow<'_>, strict: bool) -> bool {
        let d = &self.tmpl.repl;
        if d.l3.is_some() && Some(f.family) != d.l3 {
            return false;
        }
        if let Some(p) = d.l4 {
            if f.reply.proto != Some(p) {
                return false;
            }
            if !self.l4_fields(f, &f.reply, d.sport, d.dport, p, strict) {
                return false;
            }
        }
        if !addr_eq(d.src, f.reply.src, strict) || !addr_eq(d.dst, f.reply.dst, strict) {
            return false;
        }
        if let Some(z) = d.zone {
            if f.reply.zone.unwrap_or(0) != z {
                return false;
            }
        }
        true
    }

    /// Ports (TCP, UDP, UDP-Lite, DCCP, SCTP) or ICMP fields, as
    /// `cmp_orig_l4proto` / `cmp_repl_l4proto` compare them for `p`.
    fn l4_fields(
        &self,
        f: &Flow<'_>,
        dir: &Tuple,
        sport: Option<u16>,
        dport: Option<u16>,
        p: u8,
        strict: bool,
    ) -> bool {
        let eq = |want: Option<u16>, have: Option<u16>| match (want, have) {
            (None, _) => true,
            (Some(w), Some(h)) => w == h,
            (Some(_), None) => !strict,
        };
        match p {
            proto::TCP | proto::UDP | proto::UDPLITE | proto::DCCP | proto::SCTP => {
                eq(sport, dir.src_port) && eq(dport, dir.dst_port)
            }
            proto::ICMP | proto::ICMPV6 => {
                let t = &self.tmpl;
                eq(t.icmp_id, f.orig.icmp_id)
                    && eq(t.icmp_code.map(u16::from), f.orig.icmp_code.map(u16::from))
                    && eq(
                        t.icmp_type.map(|(ty, _)| u16::from(ty)),
                        f.orig.icmp_type.map(u16::from),
                    )
            }
            _ => true,
        }
    }

    /// Where the face selects less than 1.4.7 (see the module docs).
    fn narrowed(&self, f: &Flow<'_>) -> bool {
        let t = &self.tmpl;
        if !self.nat_with(f, true) {
            return false;
        }
        // GRE keys, in either direction.
        let key = |want: Option<u16>, have: Option<u16>| want.is_none_or(|w| have == Some(w));
        if t.orig.l4 == Some(proto::GRE)
            && (!key(t.orig.sport, f.orig.src_port) || !key(t.orig.dport, f.orig.dst_port))
        {
            return false;
        }
        if t.repl.l4 == Some(proto::GRE)
            && (!key(t.repl.sport, f.reply.src_port) || !key(t.repl.dport, f.reply.dst_port))
        {
            return false;
        }
        if t.orig.zone.is_some_and(|z| crate::flow::orig_zone(f) != z) {
            return false;
        }
        if t.repl.zone.is_some_and(|z| crate::flow::reply_zone(f) != z) {
            return false;
        }
        if self.use_ == Use::Delete && self.options & opt::STATUS != 0 {
            if let Some((v, m)) = self.kernel_status {
                // The bits named with `!` or UNREPLIED must be clear.
                let status = f.status.map_or(0, |s| s.0);
                let clear = m & !v;
                if status & clear != 0 {
                    return false;
                }
            }
        }
        true
    }
}

/// A strict (or, for `-U`, lenient) address comparison.
fn addr_eq(want: Option<IpAddr>, have: Option<IpAddr>, strict: bool) -> bool {
    match (want, have) {
        (None, _) => true,
        (Some(w), Some(h)) => w == h,
        (Some(_), None) => !strict,
    }
}

/// libnetfilter_conntrack's `l4src.all`: the source port, or the ICMP id.
fn l4src(t: &Tuple) -> u16 {
    t.src_port.or(t.icmp_id).unwrap_or(0)
}

/// `l4dst.all`: the destination port, or the ICMP type and code.
fn l4dst(t: &Tuple) -> u16 {
    match (t.dst_port, t.icmp_type) {
        (Some(p), _) => p,
        (None, Some(ty)) => u16::from(ty) << 8 | u16::from(t.icmp_code.unwrap_or(0)),
        _ => 0,
    }
}

impl Selection for Selection8 {
    #[inline]
    fn matches(&self, f: &Flow<'_>) -> bool {
        self.matches_inner(f)
    }

    /// Only the family and the mark go to the kernel, and only where the
    /// selection requires them and the kernel was proved to honour them;
    /// everything is matched here again.
    fn kernel_plan(&self, proved: Criteria) -> KernelPlan {
        let family = match self.use_ {
            Use::Get => 0,
            _ => self.family,
        };
        let mark = match self.use_ {
            Use::List | Use::Delete => self.kernel_mark,
            _ => None,
        };
        KernelPlan {
            filters: vec![KernelFilter {
                family: if proved.contains(Criteria::FAMILY) {
                    family
                } else {
                    0
                },
                mark: mark.filter(|_| proved.contains(Criteria::MARK)),
                ..KernelFilter::default()
            }],
            exact: false,
        }
    }
}

/// What `-U` changes in an entry it selected: conntrack 1.4.7's update
/// (`mnl_nfct_update_cb`: the template's metadata, the mark and status
/// computed from the entry's, the labels added or removed), or `None`
/// when the entry would not change and conntrack sends nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The new mark, `(old & !mask) ^ value` (the value is the status
    /// after `-m ... -u ...` in 1.4.7).
    pub mark: Option<u32>,
    /// The entry's status with the new bits.
    pub status: Option<u32>,
    /// `-t`.
    pub timeout: Option<u32>,
    /// The protocol state and flags of the entry's protocol.
    pub proto_info: Option<ProtoInfo>,
    /// Label bits and the bits they replace (16 bytes each).
    pub labels: Option<([u8; 16], [u8; 16])>,
    /// NAT was given: the kernel refuses it on an existing entry
    /// (`ctnetlink_change_conntrack`: `EOPNOTSUPP`) before changing anything.
    pub nat: bool,
}

fn label_bytes(bits: &[u32]) -> [u8; 16] {
    let l = ctctl_netlink::conntrack::Labels::from_bits(bits.iter().copied());
    let mut out = [0u8; 16];
    out.copy_from_slice(&l.0[..16]);
    out
}

/// See [`Change`].
pub fn update_change(c: &Command, f: &Flow<'_>) -> Option<Change> {
    let t = &c.tmpl;
    let mut changed = false;
    let mark = (c.options & opt::MARK != 0).then(|| {
        let old = f.mark.unwrap_or(0);
        let new = (old & !c.mark.1) ^ c.mark.0;
        changed |= new != old;
        new
    });
    let status = (c.options & opt::STATUS != 0).then(|| {
        let old = f.status.map_or(0, |s| s.0);
        let s = t.status.unwrap_or(0);
        changed |= old & s != s;
        old | s
    });
    if let Some(to) = t.timeout {
        changed |= f.timeout != Some(to);
    }
    let state = |p: u8| match &f.proto_info {
        Some(i) if i.proto() == p => i.state(),
        _ => None,
    };
    for (want, p) in [
        (t.tcp_state, proto::TCP),
        (t.sctp_state, proto::SCTP),
        (t.dccp_state, proto::DCCP),
    ] {
        if want.is_some() && state(p) != want {
            changed = true;
        }
    }
    let labels = if c.options & opt::ADD_LABEL != 0 {
        changed = true;
        let add = label_bytes(c.label_modify.as_deref().unwrap_or(&[]));
        Some((add, add))
    } else if c.options & opt::DEL_LABEL != 0 && f.labels.is_some() {
        changed = true;
        Some(match &c.label_modify {
            None => ([0; 16], [0xff; 16]),
            Some(del) => ([0; 16], label_bytes(del)),
        })
    } else {
        None
    };
    if !changed {
        return None;
    }
    use ctctl_netlink::conntrack::{DccpInfo, SctpInfo, TcpFlags, TcpInfo};
    let proto_info = match f.orig.proto {
        Some(proto::TCP) if t.tcp_state.is_some() || t.tcp_flags.is_some() => {
            let flags = t.tcp_flags.map(|fl| TcpFlags {
                flags: fl,
                mask: fl,
            });
            Some(ProtoInfo::Tcp(TcpInfo {
                state: t.tcp_state,
                flags_orig: flags,
                flags_reply: flags,
                ..TcpInfo::default()
            }))
        }
        Some(proto::SCTP)
            if t.sctp_state.is_some() || t.vtag_orig.is_some() || t.vtag_repl.is_some() =>
        {
            Some(ProtoInfo::Sctp(SctpInfo {
                state: t.sctp_state,
                vtag_orig: t.vtag_orig,
                vtag_reply: t.vtag_repl,
            }))
        }
        Some(proto::DCCP) if t.dccp_state.is_some() || t.dccp_role.is_some() => {
            Some(ProtoInfo::Dccp(DccpInfo {
                state: t.dccp_state,
                role: t.dccp_role,
                handshake_seq: None,
            }))
        }
        _ => None,
    };
    Some(Change {
        mark,
        status,
        timeout: t.timeout,
        proto_info,
        labels,
        nat: t.snat.is_some() || t.dnat.is_some() || t.snat_port.is_some() || t.dnat_port.is_some(),
    })
}

/// Whether `cmd` selects through a dump of the table with a
/// [`Selection8`] (as opposed to a lookup, a create or no selection).
pub fn selects(cmd: Option<Cmd>) -> bool {
    matches!(
        cmd,
        Some(Cmd::List | Cmd::Delete | Cmd::Update | Cmd::Event)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::conntrack8::command::{parse, Lookup};
    use ctctl_netlink::conntrack::{Status, TcpInfo};

    struct Sys;
    impl Lookup for Sys {
        fn protocol(&self, _: &str) -> Option<u8> {
            None
        }
        fn label(&self, _: &str) -> Result<Option<u32>, String> {
            Ok(None)
        }
    }

    fn sel(line: &str, use_: Use) -> Selection8 {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        Selection8::new(&parse(&words, &Sys).unwrap(), use_).unwrap()
    }

    fn tcp(src: &str, dst: &str, sport: u16, dport: u16) -> Flow<'static> {
        let t = |s: &str, d: &str, sp, dp| Tuple {
            src: s.parse().ok(),
            dst: d.parse().ok(),
            proto: Some(proto::TCP),
            src_port: Some(sp),
            dst_port: Some(dp),
            ..Tuple::default()
        };
        Flow {
            family: 2,
            orig: t(src, dst, sport, dport),
            reply: t(dst, src, dport, sport),
            status: Some(Status::SEEN_REPLY | Status::ASSURED),
            timeout: Some(100),
            mark: Some(0),
            id: Some(7),
            proto_info: Some(ProtoInfo::Tcp(TcpInfo {
                state: Some(3),
                ..TcpInfo::default()
            })),
            ..Flow::default()
        }
    }

    #[test]
    fn timeout_and_reply_ports_are_compared_exactly() {
        let f = tcp("10.0.0.1", "10.0.0.2", 1000, 80);
        assert!(!sel("-D -p tcp -t 5", Use::Delete).matches(&f));
        assert!(sel("-D -p tcp -t 100", Use::Delete).matches(&f));
        let full = "-D -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 80";
        assert!(sel(full, Use::Delete).matches(&f));
        assert!(!sel(&format!("{full} --reply-port-src 9999"), Use::Delete).matches(&f));
        assert!(sel("-D -p tcp --state ESTABLISHED", Use::Delete).matches(&f));
        assert!(!sel("-D -p tcp --state TIME_WAIT", Use::Delete).matches(&f));
    }

    #[test]
    fn networks_marks_and_status() {
        let f = tcp("10.1.2.3", "10.0.0.2", 1000, 80);
        assert!(sel("-L -s 10.1.0.0/16", Use::List).matches(&f));
        assert!(!sel("-L -s 10.2.0.0/16", Use::List).matches(&f));
        assert!(sel("-L -s 10.1.9.9 --mask-src 255.255.0.0", Use::List).matches(&f));
        assert!(sel("-L -m 0", Use::List).matches(&f));
        assert!(!sel("-L -m 1", Use::List).matches(&f));
        assert!(sel("-L -u ASSURED", Use::List).matches(&f));
        assert!(!sel("-L -u UNREPLIED", Use::List).matches(&f));
        // 1.4.7 deletes every entry for -D -u UNREPLIED; the face only the unreplied.
        assert!(!sel("-D -u UNREPLIED", Use::Delete).matches(&f));
        // -m then -u: 1.4.7 compares the mark with the status bits.
        assert!(!sel("-L -m 0 -u ASSURED", Use::List).matches(&f));
        assert!(sel("-L -u ASSURED -m 0", Use::List).matches(&f));
    }

    #[test]
    fn zones_narrowed_to_the_kernel_view() {
        let mut f = tcp("10.0.0.1", "10.0.0.2", 1, 2);
        f.zone = Some(5);
        // 1.4.7 reads no tuple zone as 0 and selects it; the face does not.
        assert!(!sel("-L --orig-zone 0", Use::List).matches(&f));
        assert!(sel("-L -w 5", Use::List).matches(&f));
        assert!(!sel("-L -w 0", Use::List).matches(&f));
        f.zone = None;
        f.orig.zone = Some(5);
        assert!(sel("-L --orig-zone 5", Use::List).matches(&f));
        assert!(
            sel("-L -w 0", Use::List).matches(&f),
            "1.4.7: no CTA_ZONE is zone 0"
        );
    }

    #[test]
    fn update_ignores_mark_and_state_as_filters() {
        let f = tcp("10.0.0.1", "10.0.0.2", 1, 2);
        assert!(sel("-U -m 5 -f ipv4", Use::Update).matches(&f));
        assert!(sel("-U -p tcp --state CLOSE -f ipv4", Use::Update).matches(&f));
        assert!(!sel("-U -p udp -m 1", Use::Update).matches(&f));
    }
}
