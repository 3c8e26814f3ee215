//! How a request finds its transaction, and how we name ourselves to the far end.

use super::{Link, Peer, ServerKey};
use crate::core::sip::message::{Method, Request};

/// The transaction key of a request (RFC 3261 17.2.3), with the RFC 2543 fallback for
/// branches without the magic cookie.
pub(super) fn server_key(req: &Request) -> ServerKey {
    let invite = matches!(req.method, Method::Invite | Method::Ack);
    let method = if invite {
        "INVITE".to_string()
    } else {
        req.method.as_str().to_string()
    };
    if req.branch.starts_with("z9hG4bK") {
        ServerKey {
            branch: req.branch.clone(),
            sent_by: req.sent_by.clone(),
            invite,
            method,
        }
    } else {
        ServerKey {
            branch: format!(
                "2543|{}|{}|{}|{}",
                req.ess.call_id,
                req.cseq,
                req.from_tag.as_deref().unwrap_or(""),
                req.ess.vias.first().map(String::as_str).unwrap_or("")
            ),
            sent_by: req.sent_by.clone(),
            invite,
            method,
        }
    }
}

/// The host of a SIP Request-URI (`sip:user@host:port;params`).
pub(super) fn request_host(uri: &str) -> Option<String> {
    let rest = uri.split_once(':')?.1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host = rest.split([';', '?']).next()?;
    let host = if host.starts_with('[') {
        host.split_inclusive(']').next()?
    } else {
        host.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_string())
}

pub(super) fn contact(host: &str, port: u16, peer: Peer) -> String {
    match peer.link {
        Link::Udp => format!("<sip:hotline@{host}:{port}>"),
        Link::Tcp(_) => format!("<sip:hotline@{host}:{port};transport=tcp>"),
    }
}
