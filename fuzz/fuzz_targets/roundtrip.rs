//! decode → encode → decode gives the same entry, for any attribute
//! payload the decoder accepts.
#![no_main]

use ctctl_netlink::attr::AttrWriter;
use ctctl_netlink::conntrack::Flow;
use ctctl_netlink::header::NfGenMsg;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&family, attrs)) = data.split_first() else {
        return;
    };
    let nfgen = NfGenMsg {
        family,
        version: 0,
        res_id: 0,
    };
    let Ok(flow) = Flow::decode_attrs(nfgen, attrs) else {
        return;
    };
    let mut buf = Vec::new();
    flow.encode(&mut AttrWriter::new(&mut buf));
    let again = Flow::decode_attrs(nfgen, &buf).expect("what we encode decodes");
    assert_eq!(flow, again);
});
