//! What this user agent accepts: the checks that answer a request before any method
//! logic (RFC 3261 8.2), and the capabilities OPTIONS advertises.

use super::message::{Method, Request};

pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REGISTER, REFER, NOTIFY";
pub const ACCEPT: &str = "application/sdp, application/dtmf-relay, application/dtmf";
/// Option tags we implement; a Require naming anything else gets 420.
pub const SUPPORTED: &[&str] = &[];

/// Checks that answer a request before any method logic (RFC 3261 8.2).
pub fn precheck(req: &Request) -> Option<(u16, Vec<(&'static str, String)>)> {
    if let Method::Other(_) = req.method {
        return Some((501, vec![("Allow", ALLOW.to_string())]));
    }
    if !matches!(req.uri_scheme.as_str(), "sip" | "sips" | "tel") {
        return Some((416, vec![]));
    }
    if req.max_forwards == Some(0) && req.method != Method::Options {
        return Some((483, vec![]));
    }
    if req.method != Method::Cancel {
        let unsupported: Vec<&str> = req
            .require
            .iter()
            .map(String::as_str)
            .filter(|t| !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .collect();
        if !unsupported.is_empty() {
            return Some((420, vec![("Unsupported", unsupported.join(", "))]));
        }
    }
    if let Some(accept) = &req.accept {
        let ok = accept.split(',').any(|a| {
            let a = a
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            a == "application/sdp" || a == "application/*" || a == "*/*"
        });
        if req.method == Method::Invite && !ok {
            return Some((406, vec![("Accept", "application/sdp".to_string())]));
        }
    }
    if !req.body.is_empty() {
        let ctype = req
            .content_type
            .as_deref()
            .map(|c| {
                c.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let ok = match req.method {
            Method::Invite => ctype == "application/sdp",
            Method::Info => ctype == "application/dtmf-relay" || ctype == "application/dtmf",
            _ => false,
        };
        if !ok {
            return Some((415, vec![("Accept", ACCEPT.to_string())]));
        }
    }
    None
}

/// What OPTIONS answers with.
pub fn capabilities() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Allow", ALLOW),
        ("Accept", ACCEPT),
        ("Supported", ""),
        ("Accept-Language", "zh-CN, en"),
    ]
}
