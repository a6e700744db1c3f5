//! Who is asking: the client's address, seen through the reverse proxies the settings
//! trust (`trusted_proxies`). A request straight from a client, or from a proxy not
//! trusted, is its peer address whatever its headers say: `X-Forwarded-For` is only
//! believed where a proxy the operator named wrote it.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// The client's address: the nearest address in `X-Forwarded-For` (read from the right,
/// the hop closest to this server) that is not one of the trusted proxies.
pub fn address(peer: SocketAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer.ip();
    if !is_trusted(&client) {
        return client;
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else { break };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 4000)
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Straight from a client: the header is whatever the client wrote.
        assert_eq!(address(peer("203.0.113.9"), &headers(&["1.2.3.4"]), &trusted), ip("203.0.113.9"));
        // Through the gym's proxy: the desk behind it.
        assert_eq!(address(peer("10.0.0.5"), &headers(&["192.168.1.20"]), &trusted), ip("192.168.1.20"));
        // A client's forged first hop is skipped: the nearest untrusted hop is the one the
        // proxy saw.
        assert_eq!(
            address(peer("10.0.0.5"), &headers(&["6.6.6.6, 192.168.1.21", "10.0.0.7"]), &trusted),
            ip("192.168.1.21")
        );
        // A garbled hop stops the walk at the last address that was believed.
        assert_eq!(address(peer("10.0.0.5"), &headers(&["nonsense"]), &trusted), ip("10.0.0.5"));
        assert_eq!(address(peer("10.0.0.5"), &HeaderMap::new(), &trusted), ip("10.0.0.5"));
        // Nobody trusted: never the header.
        assert_eq!(address(peer("10.0.0.5"), &headers(&["192.168.1.20"]), &[]), ip("10.0.0.5"));
    }
}
