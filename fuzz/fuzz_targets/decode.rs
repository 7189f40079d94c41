//! The message decoder on arbitrary datagrams: dump replies, events,
//! errors, statistics and expectations. Nothing may panic; errors are fine.
#![no_main]

use ctctl_netlink::conntrack::{EventKind, Flow};
use ctctl_netlink::expect::{self, ExpCpuStats, Expect};
use ctctl_netlink::header::Messages;
use ctctl_netlink::stats::{CpuStats, GlobalStats};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for msg in Messages::new(data) {
        let Ok(msg) = msg else { break };
        let _ = msg.error_code();
        let _ = EventKind::of(&msg);
        if let Ok(flow) = Flow::decode(&msg) {
            // Everything a renderer reads must be reachable without a panic.
            let _ = flow.state_name();
            let owned = flow.into_owned();
            let _ = format!("{owned:?}");
        }
        let _ = expect::is_expect(&msg);
        if let Ok(e) = Expect::decode(&msg) {
            let _ = e.flag_names();
            let _ = format!("{e:?}");
        }
        let _ = ExpCpuStats::decode(&msg);
        let _ = GlobalStats::decode(&msg);
        let _ = CpuStats::decode(&msg);
    }
});
