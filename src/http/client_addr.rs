//! Who the client is, by address: the TCP peer, or — when the peer is one of
//! `trusted_proxies` — the address it reports in `X-Forwarded-For`. Used by
//! login throttling and the per-address socket limit.

use crate::config::{TrustedProxies, canonical_ip};
use http::HeaderMap;
use std::net::IpAddr;

/// The client's address. A proxy appends the address it received the
/// request from, so the header's right-most entries are the trusted hops;
/// the client is the right-most address that is not a trusted proxy (what
/// lies left of it was written by the client and can be anything). A missing
/// or unreadable header leaves the peer.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = canonical_ip(peer);
    if trusted.is_empty() || !trusted.contains(peer) {
        return peer;
    }
    let mut hops: Vec<&str> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else { return peer };
        hops.extend(value.split(','));
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else { return client };
        client = canonical_ip(ip);
        if !trusted.contains(client) {
            return client;
        }
    }
    client
}

/// An entry of `X-Forwarded-For`: an address, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn with(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap_or(http::HeaderValue::from_static("")));
        }
        h
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted = TrustedProxies::try_from(vec!["10.0.0.0/8".to_string()]).unwrap_or_default();
        let proxy = ip("10.0.0.2");
        assert_eq!(client_ip(proxy, &with(&["203.0.113.7"]), &trusted), ip("203.0.113.7"));
        // A client cannot choose its address by writing the header itself.
        assert_eq!(client_ip(proxy, &with(&["1.2.3.4, 203.0.113.7"]), &trusted), ip("203.0.113.7"));
        // Trusted hops are skipped, across repeated headers too.
        assert_eq!(client_ip(proxy, &with(&["203.0.113.7", "10.0.0.9"]), &trusted), ip("203.0.113.7"));
        assert_eq!(client_ip(proxy, &with(&["[2001:db8::1]:443"]), &trusted), ip("2001:db8::1"));
        // No header, or garbage: the last address known.
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(client_ip(proxy, &with(&["nonsense"]), &trusted), proxy);
        assert_eq!(client_ip(proxy, &with(&["nonsense, 198.51.100.1"]), &trusted), ip("198.51.100.1"));
        // From an untrusted peer the header is ignored.
        assert_eq!(client_ip(ip("198.51.100.1"), &with(&["1.2.3.4"]), &trusted), ip("198.51.100.1"));
        assert_eq!(
            client_ip(ip("198.51.100.1"), &with(&["1.2.3.4"]), &TrustedProxies::default()),
            ip("198.51.100.1")
        );
    }
}
