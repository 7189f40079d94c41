//! One entry's tuple on the command line (`create`, `get`, expectations).

use clap::Args;

use crate::select::values::parse_proto;

/// Ports or ICMP fields of the original direction.
#[derive(Debug, Clone, Default, Args)]
pub struct L4Args {
    /// Original source port
    #[arg(long = "sport", visible_alias = "orig-port-src", value_name = "PORT")]
    pub sport: Option<u16>,

    /// Original destination port
    #[arg(long = "dport", visible_alias = "orig-port-dst", value_name = "PORT")]
    pub dport: Option<u16>,

    #[command(flatten)]
    pub icmp: IcmpArgs,
}

/// ICMP and ICMPv6 fields of the original direction.
#[derive(Debug, Clone, Default, Args)]
pub struct IcmpArgs {
    /// ICMP / ICMPv6 type
    #[arg(long = "icmp-type", value_name = "TYPE")]
    pub icmp_type: Option<u8>,

    /// ICMP / ICMPv6 code
    #[arg(long = "icmp-code", value_name = "CODE")]
    pub icmp_code: Option<u8>,

    /// ICMP / ICMPv6 id
    #[arg(long = "icmp-id", value_name = "ID")]
    pub icmp_id: Option<u16>,
}

/// One connection's original tuple, as `get`, `create` take it.
#[derive(Debug, Clone, Args)]
pub struct TupleArgs {
    /// Layer-4 protocol
    #[arg(short = 'p', long = "proto", value_name = "PROTO", value_parser = parse_proto, required = true)]
    pub proto: u8,

    /// Original source address
    #[arg(
        short = 's',
        long = "src",
        visible_alias = "orig-src",
        value_name = "ADDR",
        required = true
    )]
    pub src: std::net::IpAddr,

    /// Original destination address
    #[arg(
        short = 'd',
        long = "dst",
        visible_alias = "orig-dst",
        value_name = "ADDR",
        required = true
    )]
    pub dst: std::net::IpAddr,

    #[command(flatten)]
    pub l4: L4Args,
}

impl TupleArgs {
    /// The tuple, checked for completeness: both ports for port
    /// protocols, type, code and id for ICMP.
    pub fn tuple(&self) -> Result<ctctl_netlink::conntrack::Tuple, String> {
        complete_tuple(
            self.proto,
            (self.src, self.dst),
            (self.l4.sport, self.l4.dport),
            &self.l4.icmp,
            ("--src", "--dst", "--sport", "--dport"),
        )
    }
}

/// A complete tuple (what a lookup needs): addresses of one family, and
/// both ports for port protocols or type, code and id for ICMP. `names`
/// are the flags, for the messages.
pub fn complete_tuple(
    proto_num: u8,
    (src, dst): (std::net::IpAddr, std::net::IpAddr),
    (sport, dport): (Option<u16>, Option<u16>),
    icmp: &IcmpArgs,
    names: (&str, &str, &str, &str),
) -> Result<ctctl_netlink::conntrack::Tuple, String> {
    use crate::flow::{has_ports, proto_name};
    use ctctl_netlink::conntrack::proto;
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(format!(
            "{} and {} must be of the same family",
            names.0, names.1
        ));
    }
    let mut t = ctctl_netlink::conntrack::Tuple {
        src: Some(src),
        dst: Some(dst),
        proto: Some(proto_num),
        ..ctctl_netlink::conntrack::Tuple::default()
    };
    if has_ports(proto_num) {
        let (Some(s), Some(d)) = (sport, dport) else {
            return Err(format!(
                "a {} entry is named by its ports: give {} and {}",
                proto_name(proto_num),
                names.2,
                names.3
            ));
        };
        t.src_port = Some(s);
        t.dst_port = Some(d);
    } else if proto_num == proto::ICMP || proto_num == proto::ICMPV6 {
        let (Some(ty), Some(code), Some(id)) = (icmp.icmp_type, icmp.icmp_code, icmp.icmp_id)
        else {
            return Err(
                "an ICMP entry is named by --icmp-type, --icmp-code and --icmp-id".to_string(),
            );
        };
        t.icmp_type = Some(ty);
        t.icmp_code = Some(code);
        t.icmp_id = Some(id);
    }
    Ok(t)
}
