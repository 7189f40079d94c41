//! The table every generated command line runs against: loaded into both
//! namespaces by the real conntrack (`-R`), with entries that differ in
//! every criterion conntrack selects by — TCP states, UDP, ICMP, ICMPv6,
//! SCTP, GRE, UDP-Lite, an unknown protocol; marks, statuses, labels;
//! zones in both directions, one direction only, and a zone-0 twin of a
//! zoned entry; source and destination NAT, IPv4 and IPv6.

/// `connlabel.conf` for both namespaces.
pub const LABELS: &str = "0 red\n1 blue\n70 green\n";

/// The entries, as conntrack -R lines. Timeouts are long, so that no entry
/// expires during a run (the table is reloaded after every change anyway).
pub const TABLE: &str = "\
-I -p tcp -s 10.0.0.1 -d 10.0.1.1 --sport 40001 --dport 80 --state ESTABLISHED -u ASSURED,SEEN_REPLY -m 1 -t 36000
-I -p tcp -s 10.0.0.1 -d 10.0.1.1 --sport 40002 --dport 80 --state TIME_WAIT -u SEEN_REPLY -t 36001
-I -p tcp -s 10.0.0.2 -d 10.0.1.2 --sport 40003 --dport 443 --state SYN_SENT -t 36002
-I -p tcp -s 10.0.0.2 -d 10.0.1.2 --sport 40004 --dport 443 --state CLOSE -m 7 -t 36003
-I -p tcp -s 10.0.0.3 -d 10.0.1.3 --sport 40005 --dport 22 --state ESTABLISHED -w 5 -t 36004
-I -p tcp -s 10.0.0.3 -d 10.0.1.3 --sport 40005 --dport 22 --state ESTABLISHED -t 36005
-I -p tcp -s 10.0.0.4 -d 10.0.1.1 --sport 40006 --dport 80 --state ESTABLISHED --orig-zone 7 -t 36006
-I -p tcp -s 10.0.0.4 -d 10.0.1.1 --sport 40007 --dport 80 --state ESTABLISHED --reply-zone 9 -t 36007
-I -p tcp -s 10.0.0.1 -d 10.0.1.3 --sport 40008 --dport 80 --state ESTABLISHED -u ASSURED,SEEN_REPLY -n 192.0.2.9:61000 -t 36008
-I -p tcp -s 10.0.0.2 -d 192.0.2.9 --sport 40009 --dport 8080 --state ESTABLISHED -g 10.0.1.2:80 -t 36009
-I -p udp -s 10.0.0.1 -d 10.0.1.1 --sport 5353 --dport 53 -m 0x10 --label-add red -t 36010
-I -p udp -s 10.0.0.2 -d 10.0.1.1 --sport 5354 --dport 53 -u SEEN_REPLY --label-add red,blue -t 36011
-I -p udp -s 10.0.0.3 -d 10.0.1.2 --sport 5355 --dport 53 -u ASSURED,SEEN_REPLY -m 1 -t 36012
-I -p udp -s 10.0.0.4 -d 10.0.1.3 --sport 123 --dport 123 -u FIXED_TIMEOUT -t 36013
-I -p udp -s 10.0.0.1 -d 10.0.1.1 --sport 5356 --dport 53 -n 192.0.2.9 -t 36014
-I -p udp -s 10.0.0.2 -d 10.0.1.1 --sport 5360 --dport 53 -m 0x11 -w 5 -t 36015
-I -p icmp -s 10.0.0.1 -d 10.0.1.1 --icmp-type 8 --icmp-code 0 --icmp-id 100 -t 36016
-I -p icmp -s 10.0.0.2 -d 10.0.1.2 --icmp-type 8 --icmp-code 0 --icmp-id 200 -m 7 -t 36017
-I -p icmp -s 10.0.0.3 -d 10.0.1.3 --icmp-type 13 --icmp-code 0 --icmp-id 300 -t 36018
-I -p sctp -s 10.0.0.1 -d 10.0.1.1 --sport 5000 --dport 5001 --state ESTABLISHED --orig-vtag 1 --reply-vtag 2 -t 36019
-I -p sctp -s 10.0.0.2 -d 10.0.1.2 --sport 5002 --dport 5003 --state COOKIE_WAIT --orig-vtag 3 --reply-vtag 4 -t 36020
-I -p gre -s 10.0.0.1 -d 10.0.1.1 --srckey 1 --dstkey 2 -t 36021
-I -p gre -s 10.0.0.2 -d 10.0.1.2 --srckey 3 --dstkey 4 -w 5 -t 36022
-I -p udplite -s 10.0.0.3 -d 10.0.1.3 --sport 7 --dport 8 -t 36023
-I -p 89 -s 10.0.0.4 -d 10.0.1.1 -t 36024
-I -p tcp -s 2001:db8::1 -d 2001:db8:1::1 --sport 40001 --dport 80 --state ESTABLISHED -u ASSURED,SEEN_REPLY -m 1 -t 36025
-I -p tcp -s 2001:db8::2 -d 2001:db8:1::1 --sport 40002 --dport 80 --state TIME_WAIT -t 36026
-I -p udp -s 2001:db8::1 -d 2001:db8:1::2 --sport 5353 --dport 53 --label-add blue -t 36027
-I -p udp -s 2001:db8::3 -d 2001:db8:1::2 --sport 5353 --dport 53 -w 5 -t 36028
-I -p icmpv6 -s 2001:db8::1 -d 2001:db8:1::1 --icmpv6-type 128 --icmpv6-code 0 --icmpv6-id 100 -t 36029
-I -p tcp -s 2001:db8::2 -d 2001:db8:1::2 --sport 40010 --dport 443 --state ESTABLISHED -u ASSURED,SEEN_REPLY -n 2001:db8::99 -t 36030
-I -p tcp -s 2001:db8::3 -d 2001:db8:1::2 --sport 40011 --dport 443 --state ESTABLISHED --orig-zone 7 -m 0x10 -t 36031
-I -p sctp -s 2001:db8::1 -d 2001:db8:1::1 --sport 5000 --dport 5001 --state ESTABLISHED --orig-vtag 5 --reply-vtag 6 -t 36032
";
