//! Which address a request comes from. Behind a reverse proxy every request
//! arrives from the proxy, so the client is read from `X-Forwarded-For` — but
//! only when the direct peer is a proxy the operator listed
//! (`VISITA_TRUSTED_PROXIES`); anyone else could write that header.

use axum::http::HeaderMap;
use std::net::IpAddr;

/// The client's address: the peer, or when the peer is a trusted proxy, the
/// right-most `X-Forwarded-For` hop that is not itself a trusted proxy.
pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    Some(
        hops.into_iter()
            .rev()
            .find(|hop| !trusted.contains(hop))
            .unwrap_or(peer),
    )
}

/// The key sign-in attempts are counted under. An IPv6 client usually holds
/// a whole /64 and could rotate through it, so IPv6 counts per /64.
pub fn rate_limit_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = v6.segments();
                format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static(value));
        h
    }

    #[test]
    fn untrusted_peers_cannot_claim_another_address() {
        let h = forwarded("1.2.3.4");
        assert_eq!(resolve(Some(ip("9.9.9.9")), &h, &[]), Some(ip("9.9.9.9")));
    }

    #[test]
    fn behind_a_trusted_proxy_the_last_untrusted_hop_is_the_client() {
        let proxy = ip("10.0.0.5");
        // The client may prepend lies; only what our proxy appended counts.
        let h = forwarded("6.6.6.6, 203.0.113.7");
        assert_eq!(resolve(Some(proxy), &h, &[proxy]), Some(ip("203.0.113.7")));
        let h = forwarded("203.0.113.7, 10.0.0.6");
        assert_eq!(
            resolve(Some(proxy), &h, &[proxy, ip("10.0.0.6")]),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            resolve(Some(proxy), &HeaderMap::new(), &[proxy]),
            Some(proxy)
        );
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        assert_eq!(
            rate_limit_key(ip("2001:db8:1:2:aaaa::1")),
            rate_limit_key(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            rate_limit_key(ip("2001:db8:1:2::1")),
            rate_limit_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(rate_limit_key(ip("::ffff:192.0.2.1")), "ip:192.0.2.1");
        assert_eq!(rate_limit_key(ip("192.0.2.1")), "ip:192.0.2.1");
    }
}
