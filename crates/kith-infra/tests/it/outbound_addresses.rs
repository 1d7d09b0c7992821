//! `is_forbidden_ip` against every range it must refuse, and a few public
//! addresses it must allow.

use std::net::IpAddr;

use kith_infra::outbound::is_forbidden_ip;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|_| panic!("bad test address {s}"))
}

#[test]
fn forbidden_ipv4_ranges() {
    let cases = [
        // unspecified / "this network" 0.0.0.0/8
        "0.0.0.0",
        "0.255.255.255",
        // loopback 127/8
        "127.0.0.1",
        "127.255.255.254",
        // private 10/8, 172.16/12, 192.168/16
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "192.168.255.255",
        // link-local, including the cloud metadata address
        "169.254.0.1",
        "169.254.169.254",
        // carrier-grade NAT 100.64/10
        "100.64.0.1",
        "100.127.255.255",
        // IETF protocol assignments 192.0.0.0/24
        "192.0.0.1",
        "192.0.0.255",
        // documentation
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.200",
        // benchmarking 198.18/15
        "198.18.0.1",
        "198.19.255.255",
        // multicast 224/4
        "224.0.0.1",
        "239.255.255.250",
        // reserved 240/4 and broadcast
        "240.0.0.1",
        "255.255.255.254",
        "255.255.255.255",
    ];
    for case in cases {
        assert!(is_forbidden_ip(ip(case)), "{case} should be forbidden");
    }
}

#[test]
fn ipv4_range_edges_are_exact() {
    // Just outside the forbidden ranges: public addresses.
    let cases = [
        "1.0.0.1",
        "9.255.255.255",
        "11.0.0.1",
        "100.63.255.255",
        "100.128.0.1",
        "126.255.255.255",
        "128.0.0.1",
        "169.253.255.255",
        "169.255.0.1",
        "172.15.255.255",
        "172.32.0.1",
        "192.0.1.1",
        "192.0.3.1",
        "192.167.255.255",
        "192.169.0.1",
        "198.17.255.255",
        "198.20.0.1",
        "198.51.99.1",
        "198.51.101.1",
        "203.0.112.1",
        "203.0.114.1",
        "223.255.255.255",
    ];
    for case in cases {
        assert!(!is_forbidden_ip(ip(case)), "{case} should be allowed");
    }
}

#[test]
fn forbidden_ipv6_ranges() {
    let cases = [
        // unspecified, loopback
        "::",
        "::1",
        // unique local fc00::/7
        "fc00::1",
        "fd12:3456:789a::1",
        "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        // link-local fe80::/10
        "fe80::1",
        "febf:ffff::1",
        // multicast ff00::/8
        "ff02::1",
        "ff0e::101",
        // documentation 2001:db8::/32
        "2001:db8::1",
        "2001:db8:ffff::1",
        // discard-only 100::/64
        "100::1",
        "100::ffff:ffff:ffff:ffff",
    ];
    for case in cases {
        assert!(is_forbidden_ip(ip(case)), "{case} should be forbidden");
    }
}

#[test]
fn ipv6_with_embedded_ipv4_is_judged_by_the_ipv4() {
    let forbidden = [
        // IPv4-mapped
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "::ffff:169.254.169.254",
        "::ffff:0.0.0.0",
        // IPv4-compatible (deprecated)
        "::127.0.0.1",
        "::192.168.1.1",
        // NAT64 well-known prefix
        "64:ff9b::127.0.0.1",
        "64:ff9b::a9fe:a9fe", // 169.254.169.254
        // 6to4: 2002:AABB:CCDD::/48 tunnels to AA.BB.CC.DD
        "2002:7f00:0001::1", // 127.0.0.1
        "2002:c0a8:0101::1", // 192.168.1.1
        "2002:a9fe:a9fe::",  // 169.254.169.254
    ];
    for case in forbidden {
        assert!(is_forbidden_ip(ip(case)), "{case} should be forbidden");
    }
    let allowed = [
        "::ffff:8.8.8.8",
        "::8.8.8.8",
        "64:ff9b::8.8.8.8",
        "2002:0808:0808::1", // 8.8.8.8
        "2002:0101:0101::",  // 1.1.1.1
    ];
    for case in allowed {
        assert!(!is_forbidden_ip(ip(case)), "{case} should be allowed");
    }
}

#[test]
fn public_addresses_are_allowed() {
    let cases = [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",
        "2a00:1450:4001:80b::200e",
    ];
    for case in cases {
        assert!(!is_forbidden_ip(ip(case)), "{case} should be allowed");
    }
}
