//! End-to-end: `/metrics` of a real `hotline serve`, read as Prometheus reads it (a strict
//! text-format parser below), before and after calls: SIPp callers, and a scripted phone
//! whose RTP loses, reorders and repeats packets, presses keys two ways, sends an RTCP
//! report, and once never acknowledges the answer.

mod common;

use common::{free_port, tool, Phone, Server, TempDir};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

/// A server with the HTTP surfaces on, and a viewer token made with the binary.
fn server_with_http(extra: &[&str]) -> (Server, String, String) {
    let http = format!("127.0.0.1:{}", free_port());
    let mut args = vec!["--ring-delay-ms", "0", "--http-listen", &http];
    args.extend_from_slice(extra);
    let server = Server::start(&args);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["tokens", "add", "--name", "prometheus", "--role", "viewer"])
        .args(["--database", &server.db_url])
        .output()
        .expect("running hotline tokens add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(!token.is_empty(), "the token is printed on stdout");
    (server, http, token)
}

/// A plain HTTP/1.1 GET: status, Content-Type and body.
fn http_get(addr: &str, path: &str, token: Option<&str>) -> (u16, String, String) {
    let mut conn = TcpStream::connect(addr).expect("connecting to the HTTP server");
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).expect("reading the response");
    let text = String::from_utf8(raw).expect("a UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers end");
    let status = head[9..12].parse().expect("status code");
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let body = match header("transfer-encoding") {
        Some(te) if te.eq_ignore_ascii_case("chunked") => dechunk(body),
        _ => body.to_string(),
    };
    (status, header("content-type").unwrap_or_default(), body)
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").expect("chunk size line");
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

/// `/metrics`, parsed; the test fails on anything Prometheus would not take.
fn scrape(http: &str, token: &str) -> Scrape {
    let (status, ctype, body) = http_get(http, "/metrics", Some(token));
    assert_eq!(status, 200, "{body}");
    assert!(ctype.starts_with("text/plain"), "{ctype}");
    match Scrape::parse(&body) {
        Ok(s) => s,
        Err(e) => panic!("not valid Prometheus text format: {e}\n{body}"),
    }
}

/// Where Prometheus's own `promtool` is installed (it is not required), it must take
/// `/metrics` too, its naming lints included.
fn promtool_agrees(http: &str, token: &str) {
    let body = http_get(http, "/metrics", Some(token)).2;
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        println!("promtool is not installed: /metrics checked by this test's reader only");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Scrapes until `ok` holds or `WAIT` passes; the last scrape either way.
fn scrape_until(http: &str, token: &str, ok: impl Fn(&Scrape) -> bool) -> Scrape {
    let end = Instant::now() + WAIT;
    loop {
        let s = scrape(http, token);
        if ok(&s) || Instant::now() > end {
            return s;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn metrics_need_a_viewer_token_and_show_the_gauges() {
    let (_server, http, token) = server_with_http(&[]);
    let (status, ctype, body) = http_get(&http, "/metrics", None);
    assert_eq!(status, 401, "no token: {body}");
    assert!(ctype.starts_with("application/problem+json"), "{ctype}");
    assert_eq!(http_get(&http, "/metrics", Some("not-a-token")).0, 401);

    let s = scrape_until(&http, &token, |s| {
        s.has("hotline_calls_active") && s.has("hotline_followups_overdue")
    });
    assert_eq!(s.get("hotline_calls_active", &[]), Some(0.0));
    assert_eq!(s.get("hotline_followups_overdue", &[]), Some(0.0));
    for state in [
        "available",
        "on_call",
        "paused",
        "wrap_up",
        "ringing",
        "logged_out",
    ] {
        assert!(
            s.get("hotline_agents", &[("state", state)]).is_some(),
            "agents in state {state}"
        );
    }
    // The shipped queues file has these queues, with nobody waiting.
    for queue in ["general", "billing", "complaints"] {
        assert_eq!(
            s.get("hotline_queue_waiting", &[("queue", queue)]),
            Some(0.0)
        );
        assert_eq!(
            s.get("hotline_queue_longest_wait_seconds", &[("queue", queue)]),
            Some(0.0)
        );
    }
    for (name, kind) in [
        ("hotline_calls_active", "gauge"),
        ("hotline_agents", "gauge"),
        ("hotline_rtp_packets_total", "counter"),
        ("hotline_rtp_lost_total", "counter"),
        ("hotline_rtp_late_total", "counter"),
        ("hotline_store_errors_total", "counter"),
    ] {
        assert_eq!(s.kind(name), Some(kind), "{name}");
    }
    assert_eq!(s.sum("hotline_store_errors_total", &[]), 0.0);
    promtool_agrees(&http, &token);
}

/// An RTP packet from the phone's source 0x12345678.
fn rtp(pt: u8, seq: u16, timestamp: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&timestamp.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// A receiver report from the phone saying it lost `lost` packets of stream `ssrc`.
fn receiver_report(ssrc: u32, lost: u32) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&lost.to_be_bytes()); // fraction lost 0, then 24 bits
    p.extend_from_slice(&[0; 16]);
    p
}

/// One call from the scripted phone: audio with two packets lost, one reordered and one
/// repeated; "7" as RFC 4733 and "5" by INFO; a report that 3 of ours were lost. It
/// checks that the call shows as active while it lasts, then hangs up.
fn phone_call(server: &Server, http: &str, token: &str) {
    let phone = Phone::new(&server.addr());
    let media: UdpSocket = phone.media_socket();
    media.set_read_timeout(Some(WAIT)).unwrap();
    let tag = phone.call("metrics-1", &phone.sdp());
    let mut buf = [0u8; 2048];
    let (n, hotline_rtp) = media.recv_from(&mut buf).expect("RTP from hotline");
    assert!(n > 12);
    let ours = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
    let audio = [0xFFu8; 160];
    for seq in [1000, 1001, 1002, 1004, 1005, 1003, 1005, 1008, 1009] {
        let at = u32::from(seq) * 160;
        media
            .send_to(&rtp(0, seq, at, &audio), hotline_rtp)
            .unwrap();
    }
    // One press: its packets share the timestamp its start would have had.
    for (i, end) in [false, true, true].into_iter().enumerate() {
        let event = [7u8, if end { 0x80 | 10 } else { 10 }, 0x01, 0x40];
        let seq = 1010 + i as u16;
        media
            .send_to(&rtp(101, seq, 1010 * 160, &event), hotline_rtp)
            .unwrap();
    }
    let mut rtcp = hotline_rtp;
    rtcp.set_port(hotline_rtp.port() + 1);
    media.send_to(&receiver_report(ours, 3), rtcp).unwrap();
    let body = "Signal=5\r\nDuration=160\r\n";
    let info = phone
        .request("INFO", "metrics-1", 2, "z9hG4bKm1info", Some(&tag), "")
        .replace(
            "Content-Length: 0\r\n\r\n",
            &format!(
                "Content-Type: application/dtmf-relay\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        );
    phone.send(&info);
    phone
        .wait_for(WAIT, |r| r.status() == Some(200) && r.text.contains("INFO"))
        .expect("200 to INFO");
    let s = scrape_until(http, token, |s| {
        s.get("hotline_calls_active", &[]).unwrap_or(0.0) >= 1.0
    });
    assert!(
        s.get("hotline_calls_active", &[]).unwrap_or(0.0) >= 1.0,
        "the call is active"
    );
    // RTP figures reach the metrics once a second; the call stays up until they have.
    scrape_until(http, token, |s| {
        s.sum("hotline_rtp_lost_total", &[("direction", "out")]) >= 3.0
    });
    phone.send(&phone.request("BYE", "metrics-1", 3, "z9hG4bKm1bye", Some(&tag), ""));
    phone
        .wait_for(WAIT, |r| r.status() == Some(200) && r.text.contains("BYE"))
        .expect("200 to BYE");
}

/// A call whose 200 is never acknowledged (Timer H), and whose BYE from hotline is
/// never answered either (Timer F).
fn unacknowledged_call(server: &Server) {
    let phone = Phone::new(&server.addr());
    let invite = phone.request("INVITE", "metrics-2", 1, "z9hG4bKm2", None, &phone.sdp());
    phone.send(&invite);
    phone
        .wait_for(WAIT, |r| r.status() == Some(200))
        .expect("200 OK");
    phone
        .wait_for(WAIT, |r| r.method() == Some("BYE"))
        .expect("BYE once the ACK is given up on");
}

fn sipp_calls(server: &Server, calls: usize) {
    let dir = TempDir::new("metrics-sipp");
    let mut args: Vec<String> = vec![server.addr(), "-sn".into(), "uac".into()];
    args.extend(["-i", "127.0.0.1", "-p"].map(String::from));
    args.push(free_port().to_string());
    args.extend(["-m", &calls.to_string(), "-r", "10"].map(String::from));
    args.extend(["-timeout", "60"].map(String::from));
    let stats = common::run_sipp(&dir.0, &args, Duration::from_secs(60));
    let n = |k: &str| stats.get(k).and_then(|v| v.trim().parse::<usize>().ok());
    assert_eq!(
        n("SuccessfulCall(C)"),
        Some(calls),
        "sipp errors:\n{}\nserver log:\n{}",
        stats["errors"],
        server.log()
    );
}

#[test]
fn counters_move_with_calls() {
    if tool("sipp").is_none() {
        return;
    }
    // T1 = 20 ms: an unacknowledged 200 and an unanswered BYE are given up on in 1.28 s.
    let (server, http, token) = server_with_http(&["--sip-t1-ms", "20"]);
    let before = scrape(&http, &token);
    const SIPP_CALLS: usize = 5;
    sipp_calls(&server, SIPP_CALLS);
    phone_call(&server, &http, &token);
    unacknowledged_call(&server);

    let moved = |s: &Scrape, name: &str, labels: &[(&str, &str)]| {
        s.sum(name, labels) - before.sum(name, labels)
    };
    let settled = |s: &Scrape| {
        moved(s, "hotline_calls_total", &[]) >= (SIPP_CALLS + 2) as f64
            && moved(s, "hotline_sip_transaction_timeouts_total", &[]) >= 2.0
            && s.get("hotline_calls_active", &[]) == Some(0.0)
    };
    let after = scrape_until(&http, &token, settled);
    let m = |name: &str, labels: &[(&str, &str)]| moved(&after, name, labels);
    let calls = SIPP_CALLS as f64;

    let received = ("direction", "received");
    let sent = ("direction", "sent");
    // SIPp may retransmit a request when the machine is slow: at least, not exactly.
    assert!(
        m(
            "hotline_sip_requests_total",
            &[("method", "INVITE"), received]
        ) >= calls + 2.0
    );
    assert!(m("hotline_sip_requests_total", &[("method", "BYE"), received]) >= calls + 1.0);
    assert!(m("hotline_sip_requests_total", &[("method", "ACK"), received]) >= calls + 1.0);
    assert!(m("hotline_sip_requests_total", &[("method", "BYE"), sent]) >= 1.0);
    assert!(m("hotline_sip_responses_total", &[("code", "200"), sent]) >= 2.0 * calls + 4.0);
    assert_eq!(
        m("hotline_sip_transaction_timeouts_total", &[("kind", "ack")]),
        1.0
    );
    assert_eq!(
        m(
            "hotline_sip_transaction_timeouts_total",
            &[("kind", "non_invite")]
        ),
        1.0
    );

    assert_eq!(m("hotline_calls_total", &[]), calls + 2.0, "one per record");
    assert_eq!(
        m("hotline_calls_total", &[("outcome", "caller_bye")]),
        calls + 1.0
    );
    assert_eq!(m("hotline_calls_total", &[("outcome", "ack_timeout")]), 1.0);
    assert_eq!(after.get("hotline_calls_active", &[]), Some(0.0));

    assert!(m("hotline_rtp_packets_total", &[("direction", "in")]) >= 12.0);
    assert!(m("hotline_rtp_packets_total", &[("direction", "out")]) >= 50.0);
    assert_eq!(
        m("hotline_rtp_lost_total", &[("direction", "in")]),
        2.0,
        "1006 and 1007"
    );
    assert_eq!(
        m("hotline_rtp_lost_total", &[("direction", "out")]),
        3.0,
        "as reported"
    );
    assert_eq!(
        m("hotline_rtp_late_total", &[]),
        2.0,
        "1003 reordered, 1005 repeated"
    );
    assert_eq!(m("hotline_dtmf_total", &[("method", "rfc4733")]), 1.0);
    assert_eq!(m("hotline_dtmf_total", &[("method", "info")]), 1.0);

    assert_eq!(
        after.kind("hotline_store_commit_seconds"),
        Some("histogram")
    );
    assert_eq!(after.kind("hotline_store_batch_size"), Some("histogram"));
    let commits = after.sum("hotline_store_commit_seconds_count", &[]);
    assert!(commits > 0.0, "commits are timed");
    assert_eq!(commits, after.sum("hotline_store_batch_size_count", &[]));
    assert!(
        after.sum("hotline_store_batch_size_sum", &[]) >= commits,
        "each commits a write or more"
    );
    assert_eq!(after.sum("hotline_store_errors_total", &[]), 0.0);
    promtool_agrees(&http, &token);
}

// ---- a strict reader of the Prometheus text format (version 0.0.4) ----

/// One sample: its full name (with `_bucket`, `_sum`, `_count`), labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

#[derive(Debug, Default)]
struct Family {
    kind: Option<String>,
    help: Option<String>,
    samples: Vec<Sample>,
}

#[derive(Debug)]
struct Scrape {
    families: BTreeMap<String, Family>,
}

impl Scrape {
    /// Reads an exposition, refusing what Prometheus refuses and what the format's rules
    /// forbid: bad names and escapes, a sample before its TYPE, a family split in two,
    /// repeated series, a negative counter, and histograms whose buckets do not add up.
    fn parse(text: &str) -> Result<Scrape, String> {
        if !text.is_empty() && !text.ends_with('\n') {
            return Err("the last line has no line feed".into());
        }
        let mut families: BTreeMap<String, Family> = BTreeMap::new();
        let mut done: BTreeSet<String> = BTreeSet::new();
        let mut current: Option<String> = None;
        let mut series = BTreeSet::new();
        for (i, line) in text.lines().enumerate() {
            let at = |e: String| format!("line {}: {e}: {line:?}", i + 1);
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# ") {
                let (word, rest) = rest.split_once(' ').unwrap_or((rest, ""));
                if word != "HELP" && word != "TYPE" {
                    continue; // a comment
                }
                let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
                check_name(name, true).map_err(at)?;
                let family = families.entry(name.to_string()).or_default();
                if word == "HELP" {
                    unescape(value, false).map_err(at)?;
                    if family.help.replace(value.to_string()).is_some() {
                        return Err(at("a second HELP".into()));
                    }
                } else {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&value) {
                        return Err(at(format!("unknown type {value:?}")));
                    }
                    if !family.samples.is_empty() || family.kind.is_some() {
                        return Err(at("TYPE after samples, or twice".into()));
                    }
                    family.kind = Some(value.to_string());
                }
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let sample = parse_sample(line).map_err(at)?;
            let family = family_of(&families, &sample.name)
                .ok_or_else(|| at("no TYPE for this sample".into()))?;
            if current.as_deref() != Some(family.as_str()) {
                if done.contains(&family) {
                    return Err(at("the family's lines are not together".into()));
                }
                if let Some(c) = current.replace(family.clone()) {
                    done.insert(c);
                }
            }
            if !series.insert((sample.name.clone(), sample.labels.clone())) {
                return Err(at("a repeated series".into()));
            }
            let f = families.get_mut(&family).unwrap();
            if f.kind.as_deref() == Some("counter") && (sample.value < 0.0 || sample.value.is_nan())
            {
                return Err(at("a counter below zero".into()));
            }
            if sample.labels.contains_key("le") != sample.name.ends_with("_bucket") {
                return Err(at("le belongs to buckets alone".into()));
            }
            f.samples.push(sample);
        }
        for (name, f) in &families {
            if f.kind.as_deref() == Some("histogram") {
                check_histogram(name, f)?;
            }
        }
        Ok(Scrape { families })
    }

    fn has(&self, family: &str) -> bool {
        self.families
            .get(family)
            .is_some_and(|f| !f.samples.is_empty())
    }

    fn kind(&self, family: &str) -> Option<&str> {
        self.families.get(family)?.kind.as_deref()
    }

    fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.families
            .values()
            .flat_map(|f| &f.samples)
            .filter(move |s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
    }

    /// The value of the one series of `name` with exactly `labels`.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.matching(name, labels)
            .find(|s| s.labels.len() == labels.len())
            .map(|s| s.value)
    }

    /// The sum over every series of `name` that has `labels` (and maybe more); zero
    /// when there is none yet.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|s| s.value).sum()
    }
}

/// The family a sample belongs to: its own name, or a histogram's or summary's.
fn family_of(families: &BTreeMap<String, Family>, name: &str) -> Option<String> {
    let typed = |n: &str| families.get(n).is_some_and(|f| f.kind.is_some());
    if typed(name) {
        return Some(name.to_string());
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = name.strip_suffix(suffix)?;
        let kind = families.get(base)?.kind.as_deref()?;
        let fits = kind == "histogram" || (kind == "summary" && *suffix != "_bucket");
        fits.then(|| base.to_string())
    })
}

fn check_name(name: &str, metric: bool) -> Result<(), String> {
    let first_ok = |c: char| c.is_ascii_alphabetic() || c == '_' || (metric && c == ':');
    let rest_ok = |c: char| first_ok(c) || c.is_ascii_digit();
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if first_ok(c) && chars.all(rest_ok) => Ok(()),
        _ => Err(format!("bad name {name:?}")),
    }
}

/// Undoes `\\`, `\n` (and `\"` in label values); any other escape is an error.
fn unescape(s: &str, quotes: bool) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quotes => out.push('"'),
            other => return Err(format!("bad escape \\{other:?}")),
        }
    }
    Ok(out)
}

/// `name{label="value",...} value [timestamp]`.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    check_name(name, true)?;
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, after) = inner.split_once("=\"").ok_or("a label without =\"")?;
            check_name(label, false)?;
            // The value ends at the first quote not escaped.
            let mut end = None;
            let mut escaped = false;
            for (i, c) in after.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.ok_or("an unterminated label value")?;
            let value = unescape(&after[..end], true)?;
            if labels.insert(label.to_string(), value).is_some() {
                return Err(format!("label {label} twice"));
            }
            inner = &after[end + 1..];
            match inner.strip_prefix(',') {
                Some(next) => inner = next,
                None if inner.starts_with('}') => {}
                None => return Err("labels do not close".into()),
            }
        }
    }
    let mut fields = rest.split(' ').filter(|f| !f.is_empty());
    let value = parse_float(fields.next().ok_or("no value")?)?;
    if let Some(ts) = fields.next() {
        ts.parse::<i64>()
            .map_err(|_| format!("bad timestamp {ts:?}"))?;
    }
    if fields.next().is_some() || !rest.starts_with(' ') {
        return Err("stray text".into());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

fn parse_float(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ if s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) => {
            s.parse().map_err(|_| format!("bad value {s:?}"))
        }
        _ => Err(format!("bad value {s:?}")),
    }
}

/// Per series: buckets cumulative up to `+Inf`, which equals `_count`, and a `_sum`.
fn check_histogram(name: &str, f: &Family) -> Result<(), String> {
    let key = |s: &Sample| {
        let mut l = s.labels.clone();
        l.remove("le");
        l
    };
    let mut buckets: BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>> = BTreeMap::new();
    for s in f.samples.iter().filter(|s| s.name.ends_with("_bucket")) {
        let le = parse_float(&s.labels["le"])?;
        buckets.entry(key(s)).or_default().push((le, s.value));
    }
    for (labels, mut b) in buckets {
        b.sort_by(|x, y| x.0.total_cmp(&y.0));
        if b.windows(2).any(|w| w[1].1 < w[0].1) {
            return Err(format!("{name}{labels:?}: buckets not cumulative"));
        }
        let inf = b.last().filter(|x| x.0.is_infinite()).map(|x| x.1);
        let one = |suffix: &str| {
            f.samples
                .iter()
                .find(|s| s.name == format!("{name}{suffix}") && key(s) == labels)
                .map(|s| s.value)
        };
        if inf.is_none() || inf != one("_count") || one("_sum").is_none() {
            return Err(format!(
                "{name}{labels:?}: +Inf bucket, _count and _sum disagree"
            ));
        }
    }
    Ok(())
}

#[test]
fn the_reader_refuses_what_prometheus_refuses() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\\\"2\"} 3\n\
              # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n";
    let s = Scrape::parse(ok).unwrap();
    assert_eq!(s.get("a_total", &[("x", "1\"2")]), Some(3.0));
    for bad in [
        "a 1\n",                                                    // no TYPE
        "# TYPE a gauge\na 1",                                      // no final line feed
        "# TYPE a gauge\na{x=\"1\" 1\n",                            // unclosed labels
        "# TYPE a gauge\na{x=\"\\q\"} 1\n",                         // bad escape
        "# TYPE a gauge\na one\n",                                  // bad value
        "# TYPE a gauge\na 1\na 2\n",                               // repeated series
        "# TYPE a counter\na -1\n",                                 // negative counter
        "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"y\"} 1\n", // split family
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
    ] {
        assert!(Scrape::parse(bad).is_err(), "accepted: {bad:?}");
    }
}
