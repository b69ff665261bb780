//! Where Web Push may be sent. Subscription endpoints are URLs chosen by
//! clients and the server POSTs to them, so an endpoint pointing into the
//! server's own network (loopback, RFC 1918, link-local such as cloud
//! metadata services, CGNAT, unique-local IPv6, …) would let any user make
//! the server reach internal services (SSRF).
//!
//! Two checks, unless `push.allow_private_endpoints` (or
//! `push.allow_http_endpoints`) is on: at subscribe time the host — an IP
//! literal or the addresses its name resolves to now — must be public; at
//! send time the Web Push client resolves names through [`PublicOnly`],
//! which never hands a non-public address to the connector, so a name that
//! is re-pointed later (DNS rebinding) still cannot reach one.
//!
//! Owns: the address filter and the resolver that applies it. May not touch:
//! anything but endpoints.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Whether `ip` is an ordinary internet address: in none of the ranges of
/// IANA's IPv4 and IPv6 Special-Purpose Address Registries (loopback,
/// private, link-local, CGNAT, unique-local, unspecified, multicast,
/// broadcast, documentation, benchmarking, AS112, AMT, relays, translation
/// prefixes, …). IPv6 must be global unicast (2000::/3) outside those. Of
/// the forms that embed an IPv4 address, IPv4-mapped and the well-known
/// NAT64 prefix are judged by the embedded address; local-use NAT64,
/// IPv4-translated (SIIT), IPv4-compatible, Teredo and 6to4 are refused
/// outright (they lead to translators or relays that may reach anything).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let private = a == 0 // "this network", unspecified
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 169 && b == 254) // link-local (cloud metadata)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 31 && c == 196) // AS112-v4
        || (a == 192 && b == 52 && c == 193) // AMT
        || (a == 192 && b == 88 && c == 99) // deprecated 6to4 relay anycast
        || (a == 192 && b == 175 && c == 48) // AS112 direct delegation
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18/15
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast 224/4, reserved 240/4, broadcast
    !private
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        let embedded = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
        return is_public_v4(embedded); // well-known NAT64 64:ff9b::/96
    }
    // Everything outside global unicast is special: ::/8 (unspecified,
    // loopback, IPv4-compatible and -translated), 100::/64, 64:ff9b:1::/48,
    // 5f00::/16, unique-local, link-local, multicast, and the unassigned rest.
    if s[0] & 0xe000 != 0x2000 {
        return false;
    }
    // 2001::/23 holds the IETF protocol assignments (Teredo, benchmarking,
    // AMT, AS112, ORCHID, …); 2001:db8::/32 is documentation.
    let special = (s[0] == 0x2001 && (s[1] < 0x0200 || s[1] == 0x0db8))
        || s[0] == 0x2002 // 6to4
        || (s[0] == 0x2620 && s[1] == 0x004f && s[2] == 0x8000) // AS112 direct delegation
        || (s[0] == 0x3fff && s[1] < 0x1000); // documentation 3fff::/20
    !special
}

/// Why an endpoint host is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("`endpoint` must be a public internet address (see push.allow_private_endpoints)")]
pub struct NotPublic;

/// The subscribe-time check of an endpoint's host (an IP literal, possibly
/// in brackets, or a name). A name that does not resolve right now is let
/// through: [`PublicOnly`] still guards every send.
pub async fn check_host(host: &str) -> Result<(), NotPublic> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return if is_public(ip) { Ok(()) } else { Err(NotPublic) };
    }
    let lookup = tokio::net::lookup_host((bare, 443));
    match tokio::time::timeout(Duration::from_secs(3), lookup).await {
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.iter().all(|a| is_public(a.ip())) { Ok(()) } else { Err(NotPublic) }
        }
        Ok(Err(_)) | Err(_) => Ok(()),
    }
}

/// A resolver for the Web Push client that drops every non-public address
/// (the system resolver underneath). A name with only non-public addresses
/// fails to resolve, so the request fails and is retried later.
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let public: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("{host} has no public address (push.allow_private_endpoints is off)"),
                )) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_addresses() {
        for private in [
            "0.0.0.0",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.8.9.10",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::127.0.0.1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
            "100::1",
            "64:ff9b:1::a9fe:a9fe",
            "64:ff9b:1::808:808",
            "::ffff:0:7f00:1",
            "::ffff:0:808:808",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "2001:20::1",
            "2002:0808:0808::1",
            "3fff::1",
            "5f00::1",
            "100:0:0:1::1",
            "2620:4f:8000::1",
            "4000::1",
            "192.88.99.1",
            "192.31.196.1",
            "192.52.193.1",
            "192.175.48.1",
        ] {
            assert!(!is_public(ip(private)), "{private} is not public");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.167.1.1",
            "192.0.3.1",
            "198.17.0.1",
            "198.20.0.1",
            "223.255.255.254",
            "142.250.74.78",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2001:4860:4860::8888",
            "2001:200::1",
            "2620:4f:8001::1",
            "3fff:1000::1",
        ] {
            assert!(is_public(ip(public)), "{public} is public");
        }
    }

    #[tokio::test]
    async fn hosts_are_checked_by_literal_or_by_what_they_resolve_to() {
        for host in ["127.0.0.1", "10.0.0.1", "[::1]", "[fd00::1]", "169.254.169.254", "localhost"] {
            assert_eq!(check_host(host).await, Err(NotPublic), "{host}");
        }
        assert_eq!(check_host("8.8.8.8").await, Ok(()));
        assert_eq!(check_host("[2606:4700:4700::1111]").await, Ok(()));
    }

    #[tokio::test]
    async fn the_send_time_resolver_drops_private_addresses() {
        let name: Name = "localhost".parse().unwrap();
        assert!(PublicOnly.resolve(name).await.is_err(), "localhost has no public address");
    }
}
