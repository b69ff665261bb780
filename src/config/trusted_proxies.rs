//! `trusted_proxies`: the reverse proxies whose `X-Forwarded-For` is
//! believed, parsed once at load time into networks.
//!
//! Owns: parsing and matching addresses. May not touch: requests — the
//! transports (`http::client_addr`) decide which header to read.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The trusted networks (CIDRs; a single address is a /32 or /128).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// Whether `ip` (an IPv4-mapped IPv6 address counts as its IPv4) is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// No proxy is trusted: the TCP peer is always the client.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`) is that IPv4 address.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl TryFrom<Vec<String>> for TrustedProxies {
    type Error = String;

    fn try_from(items: Vec<String>) -> Result<Self, String> {
        items
            .iter()
            .map(|item| {
                let item = item.trim();
                item.parse::<ipnet::IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        format!("`trusted_proxies`: {item:?} is not an address or a CIDR like 10.0.0.0/8")
                    })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

impl From<TrustedProxies> for Vec<String> {
    fn from(t: TrustedProxies) -> Self {
        t.0.iter().map(ToString::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_parse_cidrs_and_addresses() {
        let t = TrustedProxies::try_from(vec!["10.0.0.0/8".to_string(), "::1".into(), "192.168.1.7".into()])
            .expect("valid");
        for ip in ["10.1.2.3", "::1", "192.168.1.7", "::ffff:10.0.0.1"] {
            assert!(t.contains(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["11.0.0.1", "192.168.1.8", "::2"] {
            assert!(!t.contains(ip.parse().expect("ip")), "{ip}");
        }
        assert!(TrustedProxies::try_from(vec!["10.0.0.0/33".to_string()]).is_err());
        assert!(TrustedProxies::try_from(vec!["proxy.local".to_string()]).is_err());
    }
}
