//! Who is calling and over what: the peer address, or what a trusted proxy
//! says about the client (`Forwarded`, `X-Forwarded-For`,
//! `X-Forwarded-Proto`). Headers from anyone else are ignored.

use std::net::IpAddr;

use poem::Request;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    pub ip: Option<IpAddr>,
    /// Whether the client's connection was TLS (as far as we can trust).
    pub https: bool,
    /// The TCP peer itself is loopback.
    pub peer_is_loopback: bool,
}

impl ClientAddr {
    pub fn of(req: &Request, trusted_proxies: &[IpAddr]) -> Self {
        let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
        let peer_is_loopback = peer.is_some_and(|p| p.is_loopback());
        let direct_https = req.uri().scheme_str() == Some("https");
        let Some(p) = peer.filter(|p| trusted_proxies.contains(p)) else {
            return Self { ip: peer, https: direct_https, peer_is_loopback };
        };
        let h = req.headers();
        let header = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
        // RFC 7239 first, then the de-facto headers.
        let (mut fwd_for, mut fwd_proto) = (None, None);
        if let Some(f) = header("forwarded") {
            // The last element is what our trusted proxy appended.
            if let Some(last) = f.split(',').next_back() {
                for pair in last.split(';') {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    let v = v.trim().trim_matches('"');
                    match k.trim().to_ascii_lowercase().as_str() {
                        "for" => fwd_for = v.trim_start_matches('[').split(']').next().and_then(|s| s.parse::<IpAddr>().ok()),
                        "proto" => fwd_proto = Some(v.eq_ignore_ascii_case("https")),
                        _ => {}
                    }
                }
            }
        }
        if fwd_for.is_none() {
            fwd_for = header("x-forwarded-for").and_then(|v| v.split(',').next_back()).and_then(|s| s.trim().parse::<IpAddr>().ok());
        }
        if fwd_proto.is_none() {
            fwd_proto = header("x-forwarded-proto").map(|v| v.split(',').next_back().unwrap_or("").trim().eq_ignore_ascii_case("https"));
        }
        Self { ip: fwd_for.or(Some(p)), https: fwd_proto.unwrap_or(direct_https), peer_is_loopback }
    }
}
