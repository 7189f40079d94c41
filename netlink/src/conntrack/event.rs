//! Conntrack events: multicast messages on the `NFNLGRP_CONNTRACK_*` groups.

use super::attribute::*;
use crate::header::{Message, IPCTNL_MSG_CT_DELETE, IPCTNL_MSG_CT_NEW, NLM_F_CREATE};

/// What happened to an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Created (`IPCTNL_MSG_CT_NEW` with `NLM_F_CREATE|NLM_F_EXCL`).
    New,
    /// Changed (`IPCTNL_MSG_CT_NEW` without `NLM_F_CREATE`).
    Update,
    /// Destroyed (`IPCTNL_MSG_CT_DELETE`).
    Destroy,
}

impl EventKind {
    /// The kind of an event message, or `None` for other messages.
    pub fn of(msg: &Message<'_>) -> Option<EventKind> {
        match msg.header.msg() {
            // ctnetlink_conntrack_event sets NLM_F_CREATE|NLM_F_EXCL on new
            // entries; conntrack(8) tests NLM_F_CREATE alone, and so do we.
            IPCTNL_MSG_CT_NEW if msg.header.flags & NLM_F_CREATE != 0 => Some(EventKind::New),
            IPCTNL_MSG_CT_NEW => Some(EventKind::Update),
            IPCTNL_MSG_CT_DELETE => Some(EventKind::Destroy),
            _ => None,
        }
    }

    /// The multicast group that carries this kind.
    pub fn group(self) -> u32 {
        match self {
            EventKind::New => NFNLGRP_CONNTRACK_NEW,
            EventKind::Update => NFNLGRP_CONNTRACK_UPDATE,
            EventKind::Destroy => NFNLGRP_CONNTRACK_DESTROY,
        }
    }

    /// Lower-case name: `new`, `update`, `destroy`.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::New => "new",
            EventKind::Update => "update",
            EventKind::Destroy => "destroy",
        }
    }

    /// The tag conntrack -E prints: `[NEW]`, `[UPDATE]`, `[DESTROY]`.
    pub fn tag(self) -> &'static str {
        match self {
            EventKind::New => "[NEW]",
            EventKind::Update => "[UPDATE]",
            EventKind::Destroy => "[DESTROY]",
        }
    }
}
