//! Which addresses a profile picture may come from.
//!
//! A `picture` URL is chosen by whoever controls the ID token or UserInfo
//! answer; fetching it must not turn Latchkey into a probe of the person's
//! own network (router pages, cloud metadata at 169.254.169.254, services on
//! localhost). Only global unicast addresses are allowed — checked on the
//! addresses a name resolves to ([`FilteringResolver`]), since a public name
//! can point anywhere, and on IP literals, which are never resolved. Loopback
//! is allowed only for a loopback development issuer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// True when a picture may be fetched from `ip`.
pub(crate) fn is_allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_allowed(v4, allow_loopback),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => v4_allowed(v4, allow_loopback),
            None => v6_allowed(v6, allow_loopback),
        },
    }
}

fn v4_allowed(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    let [a, b, c, _] = ip.octets();
    let refused = a == 0                                  // "this network", 0.0.0.0
        || ip.is_private()                                // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local()                             // 169.254/16 (cloud metadata)
        || (a == 100 && (64..128).contains(&b))           // 100.64/10, CGNAT
        || (a == 192 && b == 0 && c == 0)                 // 192.0.0/24, IETF assignments
        || (a == 198 && (b == 18 || b == 19))             // 198.18/15, benchmarking
        || ip.is_documentation()
        || ip.is_multicast()                              // 224/4
        || a >= 240; // 240/4 reserved, 255.255.255.255 broadcast
    !refused
}

fn v6_allowed(ip: Ipv6Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    let s = ip.segments();
    let refused = ip.is_unspecified()
        || ip.is_multicast()                              // ff00::/8
        || (s[0] & 0xfe00) == 0xfc00                      // fc00::/7, unique local
        || (s[0] & 0xffc0) == 0xfe80                      // fe80::/10, link-local
        || (s[0] & 0xffc0) == 0xfec0                      // fec0::/10, site-local
        || (s[0] == 0x2001 && s[1] == 0x0db8)             // documentation
        || (s[0] == 0x2001 && s[1] == 0)                  // Teredo (hides its IPv4 target)
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]); // 100::/64, discard
    !refused
}

/// The IPv4 address inside an IPv6 one that reaches it: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`)
/// and 6to4 (`2002:aabb:ccdd::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0; 6] && !(ip.is_unspecified() || ip.is_loopback()) {
        return Some(tail(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(tail(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(tail(s[1], s[2]));
    }
    None
}

/// A DNS resolver for the picture client: the system's resolution, keeping
/// only addresses [`is_allowed`] accepts (none left: the fetch fails).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FilteringResolver {
    /// Whether loopback addresses are allowed (loopback development issuer).
    pub(crate) allow_loopback: bool,
}

impl reqwest::dns::Resolve for FilteringResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| is_allowed(addr.ip(), allow_loopback))
                .collect();
            if addrs.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "the picture's host resolves only to private or local addresses",
                )
                .into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::dns::Resolve as _;

    fn allowed(ip: &str, allow_loopback: bool) -> bool {
        is_allowed(ip.parse().expect("ip"), allow_loopback)
    }

    #[test]
    fn public_addresses_are_allowed() {
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
        ] {
            assert!(allowed(ip, false), "{ip}");
        }
    }

    #[test]
    fn private_local_and_special_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "192.0.0.8",
            "198.18.0.1",
            "192.0.2.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001:0:4136:e378::1",
            "100::1",
            // IPv4 inside IPv6.
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::192.168.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
        ] {
            assert!(!allowed(ip, false), "{ip} must be refused");
        }
    }

    #[test]
    fn loopback_only_for_a_loopback_development_issuer() {
        for ip in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(allowed(ip, true), "{ip}");
        }
        for ip in [
            "10.0.0.1",
            "169.254.169.254",
            "::ffff:192.168.1.1",
            "fe80::1",
        ] {
            assert!(!allowed(ip, true), "{ip} stays refused");
        }
        // 100.63.x and 100.128.x are outside the CGNAT block.
        assert!(allowed("100.63.0.1", false) && allowed("100.128.0.1", false));
        assert!(allowed("::ffff:8.8.8.8", false));
    }

    #[tokio::test]
    async fn names_are_checked_after_resolution() {
        // `localhost` is a name, not an IP literal: only the resolved address tells.
        let name = || "localhost".parse().expect("name");
        let refused = FilteringResolver {
            allow_loopback: false,
        }
        .resolve(name())
        .await;
        assert!(refused.is_err(), "localhost resolves to loopback only");
        let addrs: Vec<SocketAddr> = FilteringResolver {
            allow_loopback: true,
        }
        .resolve(name())
        .await
        .expect("allowed for a loopback issuer")
        .collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
