//! A dialog (RFC 3261 12): its identifiers, the remote target and route set, and CSeq
//! bookkeeping in both directions. Made from a received INVITE (UAS: callers) or from
//! the 2xx to an INVITE we sent (UAC: the legs to agents).

use super::message::{header_param, split_outside, Request};

#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: Option<String>,
    /// Our side as the peer addressed it: the INVITE's To, plus our tag (From of our requests).
    pub local: String,
    /// The peer: the INVITE's From (To of our requests).
    pub remote: String,
    /// Where requests inside the dialog are addressed: the peer's Contact URI.
    pub remote_target: String,
    /// Record-Route values in order (RFC 3261 12.1.1), sent back as Route headers.
    pub route_set: Vec<String>,
    pub remote_cseq: u32,
    pub local_cseq: u32,
}

/// The URI inside a name-addr (`"x" <sip:a@b>;p`) or a bare addr-spec (`sip:a@b;p`).
pub fn addr_uri(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next().unwrap_or(value).trim(),
    }
}

impl Dialog {
    /// The dialog a 2xx to this INVITE creates (RFC 3261 12.1.1).
    pub fn uas(req: &Request, local_tag: String) -> Dialog {
        let local = if header_param(&req.ess.to, "tag").is_some() {
            req.ess.to.clone()
        } else {
            format!("{};tag={}", req.ess.to, local_tag)
        };
        let remote_target = req
            .contact
            .as_deref()
            .map(addr_uri)
            .unwrap_or_else(|| addr_uri(&req.ess.from))
            .to_string();
        let route_set = req
            .headers
            .iter()
            .filter(|(n, _)| n == "Record-Route")
            .flat_map(|(_, v)| split_list(v))
            .collect();
        Dialog {
            call_id: req.ess.call_id.clone(),
            local_tag,
            remote_tag: req.from_tag.clone(),
            local,
            remote: req.ess.from.clone(),
            remote_target,
            route_set,
            remote_cseq: req.cseq,
            local_cseq: 0,
        }
    }

    /// The dialog a 2xx to our INVITE creates (RFC 3261 12.1.2): the route set is the
    /// 2xx's Record-Route reversed, the remote target its Contact.
    pub fn uac(
        call_id: String,
        local: String,
        local_tag: String,
        resp: &super::message::Response,
        invite_cseq: u32,
        fallback_target: &str,
    ) -> Dialog {
        let remote_target = resp
            .contact
            .as_deref()
            .map(addr_uri)
            .unwrap_or(fallback_target)
            .to_string();
        Dialog {
            call_id,
            local_tag,
            remote_tag: resp.to_tag.clone(),
            local,
            remote: resp.to.clone(),
            remote_target,
            route_set: resp.record_route.iter().rev().cloned().collect(),
            remote_cseq: 0,
            local_cseq: invite_cseq,
        }
    }

    /// RFC 3261 12.2.2: a request with a CSeq lower than the last one is out of order
    /// (answered 500). Equal numbers are allowed for CANCEL/ACK, handled elsewhere.
    pub fn accept_cseq(&mut self, cseq: u32) -> bool {
        if cseq < self.remote_cseq {
            return false;
        }
        self.remote_cseq = cseq;
        true
    }

    /// A request inside the dialog, with the next local CSeq and the given top Via.
    pub fn request(&mut self, method: &str, via: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        self.local_cseq += 1;
        self.build(method, self.local_cseq, via, extra, None)
    }

    /// Like [`request`](Self::request), with a body of the given content type.
    pub fn request_with_body(
        &mut self,
        method: &str,
        via: &str,
        extra: &[(&str, &str)],
        body: (&str, &[u8]),
    ) -> Vec<u8> {
        self.local_cseq += 1;
        self.build(method, self.local_cseq, via, extra, Some(body))
    }

    /// The ACK of a 2xx to our INVITE: the INVITE's CSeq number (RFC 3261 13.2.2.4).
    pub fn ack(&self, invite_cseq: u32, via: &str) -> Vec<u8> {
        self.build("ACK", invite_cseq, via, &[], None)
    }

    fn build(
        &self,
        method: &str,
        cseq: u32,
        via: &str,
        extra: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> Vec<u8> {
        let mut s = format!(
            "{method} {} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n",
            self.remote_target
        );
        for r in &self.route_set {
            s.push_str("Route: ");
            s.push_str(r);
            s.push_str("\r\n");
        }
        s.push_str(&format!(
            "From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} {method}\r\n",
            self.local, self.remote, self.call_id, cseq
        ));
        for (n, v) in extra {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        match body {
            Some((ctype, body)) => {
                s.push_str(&format!(
                    "Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                ));
                let mut bytes = s.into_bytes();
                bytes.extend_from_slice(body);
                bytes
            }
            None => {
                s.push_str("Content-Length: 0\r\n\r\n");
                s.into_bytes()
            }
        }
    }
}

/// The entries of a comma-separated header list, respecting quotes and <...>.
pub fn split_list(value: &str) -> Vec<String> {
    split_outside(value, ',')
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
