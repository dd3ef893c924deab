//! Who a request comes from, as the per-IP budgets count it.
//!
//! The client is the connecting address, unless `trust_forwarded_for` is on
//! and that address is one of our trusted proxies: then the client is the
//! rightmost `X-Forwarded-For` entry that is not a trusted proxy. Each proxy
//! appends the address it saw, so that entry was written by our outermost
//! proxy; everything to its left was written by the client and may be made
//! up. (actix's `realip_remote_addr` takes the leftmost entry, which a
//! client chooses freely.)
//!
//! Budgets key IPv4 clients by address and IPv6 clients by their /64: one
//! subscriber usually holds a whole /64, so keying by address would hand
//! them 2^64 buckets.

use actix_web::http::header::HeaderMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use crate::config::TrustedProxies;

/// What one budget bucket belongs to: an IPv4 address or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The bucket of `ip`; an IPv4-mapped IPv6 address counts as IPv4.
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let network = u128::from(v6) & !u128::from(u64::MAX);
                Self(IpAddr::V6(Ipv6Addr::from(network)))
            }
            v4 => Self(v4),
        }
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// How to find the client address of a request.
#[derive(Debug, Clone)]
pub struct ClientAddress {
    trust_forwarded_for: bool,
    proxies: TrustedProxies,
}

impl ClientAddress {
    pub fn new(trust_forwarded_for: bool, proxies: TrustedProxies) -> Self {
        Self {
            trust_forwarded_for,
            proxies,
        }
    }

    /// The client address of a request from `peer` with `headers`.
    pub fn of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trust_forwarded_for {
            return peer;
        }
        let lines = headers.get_all("x-forwarded-for").map(|v| v.to_str().ok());
        self.through_proxies(peer, lines)
    }

    /// Walks the hops from `peer` leftwards through the `X-Forwarded-For`
    /// `lines` (in the order they came; `None` for one that is not text)
    /// while they are trusted proxies. An entry that is not an address
    /// ends the walk at the last trusted hop: a trusted proxy wrote nothing
    /// usable, so the best known client is that proxy.
    fn through_proxies<'a>(
        &self,
        peer: IpAddr,
        lines: impl DoubleEndedIterator<Item = Option<&'a str>>,
    ) -> IpAddr {
        let mut hop = peer;
        if !self.proxies.contains(hop) {
            return hop;
        }
        for line in lines.rev() {
            let Some(line) = line else {
                return hop;
            };
            for entry in line.rsplit(',') {
                match parse_hop(entry.trim()) {
                    Some(ip) if self.proxies.contains(ip) => hop = ip,
                    Some(ip) => return ip,
                    None => return hop,
                }
            }
        }
        // Every hop is ours: the leftmost is the nearest thing to a client.
        hop
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port
/// (`203.0.113.7:4711`, `[2001:db8::1]:4711`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn behind(proxies: &str) -> ClientAddress {
        ClientAddress::new(true, TrustedProxies::parse(proxies).expect("proxies"))
    }

    fn client(a: &ClientAddress, peer: &str, lines: &[&str]) -> IpAddr {
        a.through_proxies(ip(peer), lines.iter().map(|l| Some(*l)))
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_slash_64() {
        let a = ClientKey::of(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"));
        assert_eq!(a, ClientKey::of(ip("2001:db8:1:2::1")));
        assert_eq!(a, ClientKey(ip("2001:db8:1:2::")));
        assert_ne!(a, ClientKey::of(ip("2001:db8:1:3::1")));
    }

    #[test]
    fn ipv4_clients_are_keyed_by_address_mapped_or_not() {
        let a = ClientKey::of(ip("203.0.113.7"));
        assert_eq!(a, ClientKey(ip("203.0.113.7")));
        assert_eq!(a, ClientKey::of(ip("::ffff:203.0.113.7")));
        assert_ne!(a, ClientKey::of(ip("203.0.113.8")));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let a = behind("10.0.0.0/8, 192.0.2.1");
        assert_eq!(
            client(&a, "10.0.0.1", &["198.51.100.9, 203.0.113.7, 192.0.2.1"]),
            ip("203.0.113.7")
        );
        // Header lines are one list, in the order they came.
        assert_eq!(
            client(&a, "10.0.0.1", &["198.51.100.9", "203.0.113.7", "10.1.2.3"]),
            ip("203.0.113.7")
        );
        assert_eq!(
            client(&a, "10.0.0.1", &["[2001:db8::7]:4711"]),
            ip("2001:db8::7")
        );
        assert_eq!(
            client(&a, "10.0.0.1", &["203.0.113.7:4711"]),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn a_spoofed_leftmost_entry_is_ignored() {
        let a = behind("127.0.0.1");
        for spoofed in ["1.1.1.1", "127.0.0.1", "garbage", "10.0.0.1"] {
            let line = format!("{spoofed}, 203.0.113.7");
            assert_eq!(client(&a, "127.0.0.1", &[&line]), ip("203.0.113.7"));
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_writes() {
        let a = behind("10.0.0.0/8");
        assert_eq!(
            client(&a, "203.0.113.7", &["198.51.100.1"]),
            ip("203.0.113.7")
        );
        let off = ClientAddress::new(false, TrustedProxies::loopback());
        let mut headers = HeaderMap::new();
        headers.insert(
            actix_web::http::header::HeaderName::from_static("x-forwarded-for"),
            actix_web::http::header::HeaderValue::from_static("198.51.100.1"),
        );
        assert_eq!(off.of(ip("127.0.0.1"), &headers), ip("127.0.0.1"));
        assert_eq!(
            behind("127.0.0.1").of(ip("127.0.0.1"), &headers),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn unusable_entries_stop_at_the_last_trusted_hop() {
        let a = behind("10.0.0.0/8");
        assert_eq!(client(&a, "10.0.0.1", &["junk"]), ip("10.0.0.1"));
        assert_eq!(
            client(&a, "10.0.0.1", &["203.0.113.7, junk, 10.0.0.2"]),
            ip("10.0.0.2")
        );
        assert_eq!(
            a.through_proxies(ip("10.0.0.1"), [None].into_iter()),
            ip("10.0.0.1")
        );
        // No header at all: the proxy itself.
        assert_eq!(client(&a, "10.0.0.1", &[]), ip("10.0.0.1"));
        // Only our own hops: the leftmost.
        assert_eq!(
            client(&a, "10.0.0.1", &["10.9.9.9, 10.0.0.2"]),
            ip("10.9.9.9")
        );
    }
}
