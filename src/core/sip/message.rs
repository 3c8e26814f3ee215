//! SIP messages on the wire: framing (RFC 3261 18.3), parsing over rsipstack's `sip`
//! module, and the checks that parser leaves to us (Content-Length sanity, scalar ranges,
//! required and single-valued headers). Nothing here panics on any input.

use rsipstack::sip::{self as rsip, prelude::*};
use std::fmt;

/// Why bytes could not be framed or parsed into a message we act on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MessageError {
    /// The message is larger than the configured maximum.
    #[error("message of {size} bytes exceeds the maximum of {max}")]
    TooLarge { size: usize, max: usize },
    /// No empty line ends the header section.
    #[error("no blank line ends the headers")]
    NoHeaderEnd,
    /// Content-Length is missing where a stream needs it, negative, repeated or not a number.
    #[error("bad Content-Length: {0}")]
    BadContentLength(&'static str),
    /// The body is shorter than Content-Length says.
    #[error("body shorter than Content-Length ({declared} declared, {available} present)")]
    ShortBody { declared: usize, available: usize },
    /// The start line is neither a request line nor a status line we can read.
    #[error("unreadable start line")]
    StartLine,
    /// The SIP version is not SIP/2.0 (answered with 505).
    #[error("unsupported SIP version")]
    Version,
    /// The message parser refused it.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A header the RFC requires is missing or appears more than once.
    #[error("header {0} missing or repeated")]
    Header(&'static str),
    /// A numeric field is out of range (CSeq, Max-Forwards, Expires, status code).
    #[error("{0} out of range")]
    Range(&'static str),
    /// The CSeq method differs from the request line's method.
    #[error("CSeq method does not match the request method")]
    CseqMismatch,
}

/// Methods we know by name; anything else is kept verbatim so it can be answered 501.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Info,
    Register,
    Refer,
    Notify,
    Other(String),
}

impl Method {
    pub fn from_token(token: &str) -> Method {
        match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "REGISTER" => Method::Register,
            "REFER" => Method::Refer,
            "NOTIFY" => Method::Notify,
            other => Method::Other(other.to_string()),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Register => "REGISTER",
            Method::Refer => "REFER",
            Method::Notify => "NOTIFY",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The headers every response copies from its request (RFC 3261 8.2.6.2), kept verbatim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Essentials {
    pub vias: Vec<String>,
    pub from: String,
    pub to: String,
    pub call_id: String,
    pub cseq: String,
}

/// A request we can act on.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// The Request-URI as sent.
    pub uri: String,
    pub uri_scheme: String,
    /// The user part of the Request-URI (the number dialled), if any.
    pub uri_user: Option<String>,
    pub ess: Essentials,
    pub branch: String,
    /// The top Via's sent-by, part of the transaction key (RFC 3261 17.2.3).
    pub sent_by: String,
    pub rport: bool,
    pub from_tag: Option<String>,
    pub from_user: Option<String>,
    pub to_tag: Option<String>,
    pub cseq: u32,
    pub cseq_method: Method,
    pub max_forwards: Option<u32>,
    pub contact: Option<String>,
    pub content_type: Option<String>,
    pub require: Vec<String>,
    pub accept: Option<String>,
    pub body: Vec<u8>,
    /// All headers as (canonical name, value), for anything not cached above.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response we can match to a client transaction.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub branch: String,
    pub cseq: u32,
    pub cseq_method: Method,
    pub to_tag: Option<String>,
    pub call_id: String,
    /// The To header as received (with the callee's tag), for ACK and the dialog.
    pub to: String,
    /// The first Contact URI's header value, when there is one (the callee's target).
    pub contact: Option<String>,
    /// Record-Route values in order (the UAC reverses them into its route set).
    pub record_route: Vec<String>,
    pub body: Vec<u8>,
    /// All headers as (canonical name, value), for anything not cached above
    /// (challenges, Expires).
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// Every value of a header, in order (a 401 may carry one challenge per algorithm).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub enum Message {
    Request(Box<Request>),
    Response(Box<Response>),
}

/// What a stream framer found at the start of its buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamFrame {
    /// Only keep-alive CRLFs: drop this many bytes.
    KeepAlive(usize),
    /// A whole message at `start..start+len` (bytes before `start` are CRLF keep-alives).
    Message { start: usize, len: usize },
    /// More bytes are needed.
    Incomplete,
}

/// RFC 3261 7.3.3 compact forms.
fn canonical_name(name: &str) -> &str {
    match name {
        "i" | "I" => "Call-ID",
        "m" | "M" => "Contact",
        "e" | "E" => "Content-Encoding",
        "l" | "L" => "Content-Length",
        "c" | "C" => "Content-Type",
        "f" | "F" => "From",
        "s" | "S" => "Subject",
        "k" | "K" => "Supported",
        "t" | "T" => "To",
        "v" | "V" => "Via",
        _ => name,
    }
}

fn find_header_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Header lines unfolded (RFC 3261 7.3.1) into (canonical name, trimmed value).
/// Lines without a colon are returned with an empty name so callers can reject them.
fn header_lines(head: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n").skip(1) {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        match line.split_once(':') {
            Some((n, v)) => {
                let n = n.trim_end_matches([' ', '\t']);
                let canon = canonical_name(n);
                let name = KNOWN
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(canon))
                    .map(|k| k.to_string())
                    .unwrap_or_else(|| canon.to_string());
                out.push((name, v.trim().to_string()));
            }
            None => out.push((String::new(), line.to_string())),
        }
    }
    out
}

const KNOWN: &[&str] = &[
    "Via",
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Contact",
    "Content-Length",
    "Content-Type",
    "Max-Forwards",
    "Require",
    "Accept",
    "Expires",
    "Supported",
    "Route",
    "Record-Route",
];

/// Content-Length from the raw header lines: `Ok(None)` when absent.
fn content_length(head: &str) -> Result<Option<usize>, MessageError> {
    let mut found: Option<usize> = None;
    for (name, value) in header_lines(head) {
        if name != "Content-Length" {
            continue;
        }
        if found.is_some() {
            return Err(MessageError::BadContentLength("repeated"));
        }
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MessageError::BadContentLength("not a non-negative integer"));
        }
        found = Some(
            value
                .parse()
                .map_err(|_| MessageError::BadContentLength("too large"))?,
        );
    }
    Ok(found)
}

/// Frames one UDP datagram: the message is the head plus Content-Length bytes, and
/// anything after it is ignored (RFC 3261 18.3). Without Content-Length the body runs
/// to the end of the datagram.
pub fn frame_datagram(buf: &[u8], max: usize) -> Result<&[u8], MessageError> {
    if buf.len() > max {
        return Err(MessageError::TooLarge {
            size: buf.len(),
            max,
        });
    }
    let end = find_header_end(buf).ok_or(MessageError::NoHeaderEnd)?;
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| MessageError::StartLine)?;
    let body_start = end + 4;
    let available = buf.len() - body_start;
    match content_length(head)? {
        Some(declared) if declared > available => Err(MessageError::ShortBody {
            declared,
            available,
        }),
        Some(declared) => Ok(&buf[..body_start + declared]),
        None => Ok(buf),
    }
}

/// Frames the next message of a stream by Content-Length, skipping CRLF keep-alives
/// (RFC 5626 3.5.1). A request or response without Content-Length cannot be framed.
pub fn frame_stream(buf: &[u8], max: usize) -> Result<StreamFrame, MessageError> {
    let start = buf
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .unwrap_or(buf.len());
    if start == buf.len() {
        return Ok(if start == 0 {
            StreamFrame::Incomplete
        } else {
            StreamFrame::KeepAlive(start)
        });
    }
    let rest = &buf[start..];
    let Some(end) = find_header_end(rest) else {
        if rest.len() > max {
            return Err(MessageError::TooLarge {
                size: rest.len(),
                max,
            });
        }
        return Ok(StreamFrame::Incomplete);
    };
    let head = std::str::from_utf8(&rest[..end]).map_err(|_| MessageError::StartLine)?;
    // RFC 3261 18.3 / 20.14: on a stream, Content-Length is the only framing there is, so a
    // request or response without one cannot be framed. Bytes that are no message at all
    // (no SIP start line) still count as a 0-length message, which parse() refuses.
    let declared = match content_length(head)? {
        Some(n) => n,
        None if has_sip_start_line(head) => {
            return Err(MessageError::BadContentLength(
                "missing on a stream transport",
            ))
        }
        None => 0,
    };
    let len = end + 4 + declared;
    if len > max {
        return Err(MessageError::TooLarge { size: len, max });
    }
    if rest.len() < len {
        return Ok(StreamFrame::Incomplete);
    }
    Ok(StreamFrame::Message { start, len })
}

/// Best-effort read of the headers a 400 needs, for messages the parser refused.
/// `None` when it is not a request or lacks what a response must copy.
pub fn salvage_request(bytes: &[u8]) -> Option<Essentials> {
    let end = find_header_end(bytes).unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..end]);
    let start = head.split("\r\n").next()?;
    if start.starts_with("SIP/") || !start.contains(' ') {
        return None;
    }
    let lines = header_lines(&head);
    let one = |name: &str| {
        lines
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let vias: Vec<String> = lines
        .iter()
        .filter(|(n, _)| n == "Via")
        .map(|(_, v)| v.clone())
        .collect();
    if vias.is_empty() {
        return None;
    }
    Some(Essentials {
        vias,
        from: one("From")?,
        to: one("To")?,
        call_id: one("Call-ID")?,
        cseq: one("CSeq")?,
    })
}

/// The request method token of a start line, if it is a request.
pub fn request_method(bytes: &[u8]) -> Option<Method> {
    let line_end = bytes.iter().position(|b| *b == b'\r')?;
    let line = std::str::from_utf8(&bytes[..line_end]).ok()?;
    if line.starts_with("SIP/") {
        return None;
    }
    let token = line.split(' ').next()?;
    Some(Method::from_token(token))
}

fn parse_cseq(value: &str) -> Result<(u32, Method), MessageError> {
    let mut parts = value.split_whitespace();
    let num = parts.next().ok_or(MessageError::Header("CSeq"))?;
    let method = parts.next().ok_or(MessageError::Header("CSeq"))?;
    if parts.next().is_some() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MessageError::Header("CSeq"));
    }
    let n: u64 = num.parse().map_err(|_| MessageError::Range("CSeq"))?;
    let n = u32::try_from(n).map_err(|_| MessageError::Range("CSeq"))?;
    Ok((n, Method::from_token(method)))
}

/// The value of `;name=value` in a header's parameters (after the URI part).
pub fn header_param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let params = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    params.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// Parses one framed message. Extension methods, which rsipstack's parser refuses, are
/// parsed as OPTIONS and keep their real name in [`Request::method`].
pub fn parse(bytes: &[u8]) -> Result<Message, MessageError> {
    let end = find_header_end(bytes).ok_or(MessageError::NoHeaderEnd)?;
    let head = std::str::from_utf8(&bytes[..end]).map_err(|_| MessageError::StartLine)?;
    let start = head.split("\r\n").next().unwrap_or("");
    if start.starts_with("SIP/") {
        return parse_response(bytes, head, start);
    }
    let mut parts = start.split(' ');
    let (Some(token), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(MessageError::StartLine);
    };
    if token.is_empty() || !token.bytes().all(is_token_char) || !has_uri_scheme(uri) {
        return Err(MessageError::StartLine);
    }
    if version != "SIP/2.0" {
        return Err(if version.starts_with("SIP/") {
            MessageError::Version
        } else {
            MessageError::StartLine
        });
    }
    let method = Method::from_token(token);
    let parsed = if let Method::Other(_) = method {
        let mut copy = b"OPTIONS".to_vec();
        copy.extend_from_slice(&bytes[token.len()..]);
        rsip::SipMessage::try_from(copy.as_slice())
    } else {
        rsip::SipMessage::try_from(bytes)
    }
    .map_err(|e| MessageError::Malformed(e.to_string()))?;
    let rsip::SipMessage::Request(req) = parsed else {
        return Err(MessageError::StartLine);
    };
    let lines = header_lines(head);
    if lines.iter().any(|(n, _)| n.is_empty()) {
        return Err(MessageError::Malformed(
            "header line without a colon".into(),
        ));
    }
    let single = |name: &'static str| -> Result<String, MessageError> {
        let mut it = lines.iter().filter(|(n, _)| n == name);
        match (it.next(), it.next()) {
            (Some((_, v)), None) => Ok(v.clone()),
            _ => Err(MessageError::Header(name)),
        }
    };
    let optional = |name: &'static str| -> Result<Option<String>, MessageError> {
        let mut it = lines.iter().filter(|(n, _)| n == name);
        match (it.next(), it.next()) {
            (v, None) => Ok(v.map(|(_, v)| v.clone())),
            _ => Err(MessageError::Header(name)),
        }
    };
    let vias: Vec<String> = lines
        .iter()
        .filter(|(n, _)| n == "Via")
        .map(|(_, v)| v.clone())
        .collect();
    if vias.is_empty() {
        return Err(MessageError::Header("Via"));
    }
    if !vias.iter().all(|v| well_formed_via(v)) {
        return Err(MessageError::Malformed(
            "empty Via value or parameter".into(),
        ));
    }
    let from = single("From")?;
    let to = single("To")?;
    let call_id = single("Call-ID")?;
    let cseq_raw = single("CSeq")?;
    let (cseq, cseq_method) = parse_cseq(&cseq_raw)?;
    if cseq_method != method {
        return Err(MessageError::CseqMismatch);
    }
    let max_forwards = match optional("Max-Forwards")? {
        Some(v) => Some(
            v.parse::<u32>()
                .ok()
                .filter(|n| *n <= 255)
                .ok_or(MessageError::Range("Max-Forwards"))?,
        ),
        None => None,
    };
    if let Some(e) = optional("Expires")? {
        e.parse::<u32>()
            .map_err(|_| MessageError::Range("Expires"))?;
    }
    // Typed reads through rsipstack: a header it cannot make sense of is a malformed message.
    let top_via = req
        .via_header()
        .and_then(|v| v.typed())
        .map_err(|e| MessageError::Malformed(format!("Via: {e}")))?;
    let branch = top_via.branch().map(|b| b.to_string()).unwrap_or_default();
    let sent_by = top_via.sent_by().to_string();
    let rport = top_via.rport().is_some();
    let from_h = req
        .from_header()
        .map_err(|e| MessageError::Malformed(e.to_string()))?;
    let from_uri = from_h
        .uri()
        .map_err(|e| MessageError::Malformed(format!("From: {e}")))?;
    let to_h = req
        .to_header()
        .map_err(|e| MessageError::Malformed(e.to_string()))?;
    to_h.uri()
        .map_err(|e| MessageError::Malformed(format!("To: {e}")))?;
    check_quotes(&from).and(check_quotes(&to))?;
    // The dialog's remote target is the Contact (else the From) URI, and From and To are
    // copied into our own requests: each must be a URI that reads back as a Request-URI.
    let contact = optional("Contact").ok().flatten();
    check_addr("From", &from)?;
    check_addr("To", &to)?;
    if let Some(c) = contact.as_deref().filter(|c| c.trim() != "*") {
        check_addr("Contact", c)?;
    }
    let list = |name: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let uri_scheme = uri.split(':').next().unwrap_or("").to_ascii_lowercase();
    let uri_user = req.uri.auth.as_ref().map(|a| a.user.clone());
    Ok(Message::Request(Box::new(Request {
        method,
        uri: uri.to_string(),
        uri_scheme,
        uri_user,
        ess: Essentials {
            vias,
            from: from.clone(),
            to: to.clone(),
            call_id,
            cseq: cseq_raw,
        },
        branch,
        sent_by,
        rport,
        from_tag: header_param(&from, "tag").map(str::to_string),
        from_user: from_uri.auth.map(|a| a.user),
        to_tag: header_param(&to, "tag").map(str::to_string),
        cseq,
        cseq_method,
        max_forwards,
        contact,
        content_type: optional("Content-Type")?,
        require: list("Require"),
        accept: optional("Accept").ok().flatten(),
        body: req.body,
        headers: lines,
    })))
}

/// Whether the first line reads like a request line or a status line of some SIP version.
fn has_sip_start_line(head: &str) -> bool {
    let line = head.split("\r\n").next().unwrap_or("");
    line.starts_with("SIP/")
        || line
            .rsplit(' ')
            .next()
            .is_some_and(|v| v.starts_with("SIP/"))
}

/// The URI of a From, To or Contact value (RFC 3261 20.10, 25.1) must have a scheme, no
/// whitespace or control characters, and read back through rsipstack's URI parser, as
/// it will when it becomes the Request-URI, From or To of a request we send in the
/// dialog. rsipstack's header parser alone lets `From: @<TAB>x` and `<sip:a@b:136222>` by.
fn check_addr(name: &'static str, value: &str) -> Result<(), MessageError> {
    let uri = super::dialog::addr_uri(value);
    let ok = has_uri_scheme(uri)
        && !uri
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        && rsip::Uri::try_from(uri).is_ok();
    if ok {
        Ok(())
    } else {
        Err(MessageError::Malformed(format!("{name}: not a URI")))
    }
}

/// `scheme ":"` at the start of a Request-URI (RFC 3261 25.1: scheme = ALPHA *( ALPHA /
/// DIGIT / "+" / "-" / "." )); "<sip:...>" has none.
fn has_uri_scheme(uri: &str) -> bool {
    let Some((scheme, _)) = uri.split_once(':') else {
        return false;
    };
    let mut b = scheme.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c))
}

/// Splits on `sep` outside double quotes and angle brackets (header lists, parameters).
pub fn split_outside(value: &str, sep: char) -> Vec<&str> {
    let (mut out, mut start, mut depth, mut quoted, mut escaped) =
        (Vec::new(), 0, 0i32, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            c if c == sep && !quoted && depth <= 0 => {
                out.push(&value[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

/// A Via header value with no empty via-parm and no empty parameter (RFC 4475 3.1.2.1:
/// "SIP/2.0/UDP 192.0.2.15;;,;,," is malformed).
fn well_formed_via(value: &str) -> bool {
    split_outside(value, ',').into_iter().all(|via| {
        split_outside(via, ';')
            .into_iter()
            .all(|part| !part.trim().is_empty())
    })
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// A display name with an unbalanced quote (RFC 4475 3.1.2.6) is malformed.
fn check_quotes(value: &str) -> Result<(), MessageError> {
    let mut open = false;
    let mut escaped = false;
    for c in value.chars() {
        match c {
            '\\' if open && !escaped => escaped = true,
            '"' if !escaped => open = !open,
            _ => escaped = false,
        }
    }
    if open {
        Err(MessageError::Malformed("unbalanced quotes".into()))
    } else {
        Ok(())
    }
}

fn parse_response(bytes: &[u8], head: &str, start: &str) -> Result<Message, MessageError> {
    let mut parts = start.splitn(3, ' ');
    let (Some("SIP/2.0"), Some(code)) = (parts.next(), parts.next()) else {
        return Err(MessageError::StartLine);
    };
    let status: u16 = code
        .parse()
        .ok()
        .filter(|c| (100..700).contains(c))
        .ok_or(MessageError::Range("status code"))?;
    let parsed =
        rsip::SipMessage::try_from(bytes).map_err(|e| MessageError::Malformed(e.to_string()))?;
    let rsip::SipMessage::Response(resp) = parsed else {
        return Err(MessageError::StartLine);
    };
    let lines = header_lines(head);
    let one = |name: &'static str| {
        lines
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or(MessageError::Header(name))
    };
    let (cseq, cseq_method) = parse_cseq(&one("CSeq")?)?;
    let branch = resp
        .via_header()
        .and_then(|v| v.typed())
        .map_err(|e| MessageError::Malformed(format!("Via: {e}")))?
        .branch()
        .map(|b| b.to_string())
        .unwrap_or_default();
    let to = one("To")?;
    Ok(Message::Response(Box::new(Response {
        status,
        branch,
        cseq,
        cseq_method,
        to_tag: header_param(&to, "tag").map(str::to_string),
        call_id: one("Call-ID")?,
        contact: lines
            .iter()
            .find(|(n, _)| n == "Contact")
            .map(|(_, v)| v.clone()),
        record_route: lines
            .iter()
            .filter(|(n, _)| n == "Record-Route")
            .flat_map(|(_, v)| split_outside(v, ','))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
        to,
        body: resp.body,
        headers: lines,
    })))
}

/// The standard reason phrase for the codes we send.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "Version Not Supported",
        _ => "Unknown",
    }
}

/// Adds `received` and fills `rport` on a top Via value (RFC 3261 18.2.1, RFC 3581 4).
pub fn stamp_via(via: &str, src: std::net::SocketAddr) -> String {
    let mut params: Vec<String> = via.split(';').map(|s| s.to_string()).collect();
    params.retain(|p| !p.trim().to_ascii_lowercase().starts_with("received="));
    for p in params.iter_mut().skip(1) {
        if p.trim().eq_ignore_ascii_case("rport") {
            *p = format!("rport={}", src.port());
        }
    }
    params.push(format!("received={}", src.ip()));
    params.join(";")
}

/// Builds a response to a request: copies Via (stamped), From, To (with our tag when
/// given and the request had none), Call-ID and CSeq, then `extra` headers and a body.
pub fn build_response(
    ess: &Essentials,
    src: std::net::SocketAddr,
    status: u16,
    to_tag: Option<&str>,
    extra: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Vec<u8> {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(512);
    let _ = write!(s, "SIP/2.0 {} {}\r\n", status, reason(status));
    for (i, via) in ess.vias.iter().enumerate() {
        if i == 0 {
            let _ = write!(s, "Via: {}\r\n", stamp_via(via, src));
        } else {
            let _ = write!(s, "Via: {via}\r\n");
        }
    }
    let _ = write!(s, "From: {}\r\n", ess.from);
    match to_tag {
        Some(tag) if header_param(&ess.to, "tag").is_none() && status != 100 => {
            let _ = write!(s, "To: {};tag={}\r\n", ess.to, tag);
        }
        _ => {
            let _ = write!(s, "To: {}\r\n", ess.to);
        }
    }
    let _ = write!(s, "Call-ID: {}\r\nCSeq: {}\r\n", ess.call_id, ess.cseq);
    for (n, v) in extra {
        let _ = write!(s, "{n}: {v}\r\n");
    }
    let mut out = match body {
        Some((ctype, bytes)) => {
            let _ = write!(
                s,
                "Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
                bytes.len()
            );
            let mut out = s.into_bytes();
            out.extend_from_slice(bytes);
            out
        }
        None => {
            s.push_str("Content-Length: 0\r\n\r\n");
            s.into_bytes()
        }
    };
    out.shrink_to_fit();
    out
}
