//! The conntrack subsystem of ctnetlink (`NFNL_SUBSYS_CTNETLINK`).

pub mod attribute;
pub mod counters;
pub mod event;
pub mod filter;
pub mod message;
pub mod protoinfo;
pub mod request;
pub mod status;
pub mod tuple;

pub use counters::{Counters, Timestamp};
pub use event::EventKind;
pub use filter::KernelFilter;
pub use message::{Flow, Labels, SeqAdj, Synproxy};
pub use protoinfo::{DccpInfo, ProtoInfo, SctpInfo, TcpFlags, TcpInfo};
pub use request::RequestBuf;
pub use status::Status;
pub use tuple::{proto, Tuple};
