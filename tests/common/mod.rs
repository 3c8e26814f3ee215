//! Shared harness for end-to-end tests: a real `hotline serve` on loopback with its own
//! ports and database, and lookup of the external tools (SIPp) the tests drive it with.
#![allow(dead_code)]

pub mod baresip;
pub mod board;
#[macro_use]
pub mod db;
pub mod cluster;
pub mod ivr;
pub mod kamailio;
pub mod pgrelay;

use hotline::store::{CallRow, Store};
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// A tool the test needs: its path, or `None` after printing why the test is skipped.
/// Under CI=true a missing tool fails the test instead.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "{name} is not installed, and CI=true requires it (scripts/test.sh installs it)"
        );
        println!("skipping: {name} is not installed (scripts/test.sh installs it)");
    }
    found
}

/// The shared test corpora next to the repository.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// `n` consecutive ports, the first even, free for both UDP and TCP on 127.0.0.1 (taken
/// from the kernel's ephemeral range, which the RTP blocks below stay clear of).
pub fn free_ports(n: u16) -> u16 {
    loop {
        let Ok(probe) = UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(first) = probe.local_addr().map(|a| a.port()) else {
            continue;
        };
        drop(probe);
        if first % 2 != 0 || first > u16::MAX - n {
            continue;
        }
        let free = (first..first + n).all(|p| {
            UdpSocket::bind(("127.0.0.1", p)).is_ok() && TcpListener::bind(("127.0.0.1", p)).is_ok()
        });
        if free {
            return first;
        }
    }
}

/// A port free for both UDP and TCP on 127.0.0.1.
pub fn free_port() -> u16 {
    free_ports(1)
}

const RTP_BLOCK: u16 = 500;
static NEXT_RTP: AtomicU16 = AtomicU16::new(0);

/// A block of RTP ports of its own for each server this test process starts, below the
/// ephemeral range so that no client socket lands in it.
fn rtp_block() -> u16 {
    let k = NEXT_RTP.fetch_add(1, Ordering::SeqCst) % 8;
    16_000 + (std::process::id() % 4) as u16 * (8 * RTP_BLOCK) + k * RTP_BLOCK
}

/// A fresh folder under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "hotline-{tag}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&p).expect("creating temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Creates the database at `url` with `hotline migrate`, as a user would: every command
/// but `serve` and `migrate` refuses a database that does not exist.
pub fn migrate(url: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["migrate", "--database", url])
        .env_remove("HOTLINE_CONFIG")
        .output()
        .expect("running hotline migrate");
    assert!(out.status.success(), "hotline migrate {url}: {out:?}");
}

/// A SQLite database `NAME.db` in `dir`, created with [`migrate`]; its URL.
pub fn migrated_db(dir: &TempDir, name: &str) -> String {
    let url = format!("sqlite://{}/{name}.db", dir.0.display());
    migrate(&url);
    url
}

/// A running `hotline serve`, killed on drop.
pub struct Server {
    child: Child,
    /// Its SIP address is `ip:port`.
    pub ip: String,
    pub port: u16,
    pub dir: TempDir,
    pub db_url: String,
    /// Environment given to the server on top of the test's own, kept for `restart`.
    env: Vec<(String, String)>,
}

impl Server {
    /// Starts the server on a free loopback port with a temporary SQLite database.
    pub fn start(extra: &[&str]) -> Server {
        Self::start_logging(extra, "warn")
    }

    /// The same, logging at `level` (RUST_LOG syntax) into the log file.
    pub fn start_logging(extra: &[&str], level: &str) -> Server {
        let dir = TempDir::new("server");
        let port = free_port();
        let db_url = format!("sqlite://{}/hotline.db", dir.0.display());
        let child = spawn(&dir, &format!("127.0.0.1:{port}"), &db_url, extra, level);
        let mut server = Server {
            child,
            ip: "127.0.0.1".into(),
            port,
            dir,
            db_url,
            env: Vec::new(),
        };
        server.wait_listening();
        server
    }

    /// The same, with `env` added to the server's environment, run from its own temp
    /// folder (so relative defaults such as the `voicemail` folder land there; give the
    /// dial plans, prompts and queues as absolute paths). For `HOTLINE_TEST_CLOCK_START`.
    pub fn start_with_env(extra: &[&str], level: &str, env: &[(&str, &str)]) -> Server {
        let dir = TempDir::new("server");
        let port = free_port();
        let db_url = format!("sqlite://{}/hotline.db", dir.0.display());
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let child = spawn_with(
            &dir,
            &format!("127.0.0.1:{port}"),
            &db_url,
            extra,
            level,
            &env,
        );
        let mut server = Server {
            child,
            ip: "127.0.0.1".into(),
            port,
            dir,
            db_url,
            env,
        };
        server.wait_listening();
        server
    }

    /// Starts a server on `ip:port` with the database at `db_url` (which must exist),
    /// logging at `level`: a node of a cluster, say.
    pub fn start_at(ip: &str, port: u16, db_url: &str, extra: &[&str], level: &str) -> Server {
        let dir = TempDir::new("server");
        let child = spawn(&dir, &format!("{ip}:{port}"), db_url, extra, level);
        let mut server = Server {
            child,
            ip: ip.to_string(),
            port,
            dir,
            db_url: db_url.to_string(),
            env: Vec::new(),
        };
        server.wait_listening();
        server
    }

    /// Kills the server with SIGKILL: no drain, no flush, as in a crash or power cut.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port, folder and database (after `kill` or
    /// `stop`); the log goes on in the same file.
    pub fn restart(&mut self, extra: &[&str], level: &str) {
        self.child = match self.env.is_empty() {
            true => spawn(&self.dir, &self.addr(), &self.db_url, extra, level),
            false => spawn_with(
                &self.dir,
                &self.addr(),
                &self.db_url,
                extra,
                level,
                &self.env,
            ),
        };
        self.wait_listening();
    }

    fn wait_listening(&mut self) {
        let stdout = self.child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("listening on sip") {
                    let _ = tx.send(());
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(30)).is_err() {
            panic!("hotline did not start:\n{}", self.log());
        }
    }

    pub fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("server.log")).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Waits for the process to exit, up to `limit`.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGTERM, then the exit status (records are flushed by then).
    pub fn stop(&mut self) -> ExitStatus {
        self.terminate();
        match self.wait(Duration::from_secs(60)) {
            Some(s) => s,
            None => panic!("hotline did not stop after SIGTERM:\n{}", self.log()),
        }
    }

    /// Runs `read` against the server's database and returns what it found.
    pub fn read<T>(&self, read: impl AsyncFnOnce(&Store) -> T) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(async {
                let store = Store::connect(&self.db_url)
                    .await
                    .expect("opening the test database");
                let found = read(&store).await;
                store.close().await;
                found
            })
    }

    /// The timeline of every call, as (call's SIP Call-ID, kind, detail).
    pub fn events(&self) -> Vec<(String, String, String)> {
        self.read(async |store| {
            let mut out = Vec::new();
            for call in store.calls_since(0).await.expect("reading calls") {
                for e in store.events(&call.id).await.expect("reading events") {
                    out.push((call.sip_call_id.clone(), e.kind, e.detail));
                }
            }
            out
        })
    }

    /// The language the IVR stored on call `id`.
    pub fn language(&self, id: &str) -> Option<String> {
        self.ivr(id).and_then(|i| i.language)
    }

    /// What the IVR stored on call `id`.
    pub fn ivr(&self, id: &str) -> Option<hotline::store::CallIvr> {
        self.read(async |store| store.call_ivr(id).await.expect("reading the call"))
    }

    /// All call records.
    pub fn calls(&self) -> Vec<CallRow> {
        self.read(async |store| store.calls_since(0).await.expect("reading calls"))
    }
}

/// `hotline serve` on `port` with `db_url`, logging into `dir`/server.log (appended).
fn spawn(dir: &TempDir, sip: &str, db_url: &str, extra: &[&str], level: &str) -> Child {
    command(dir, sip, db_url, extra, level)
        .spawn()
        .expect("starting hotline")
}

/// The same with `env` added, run from `dir`.
fn spawn_with(
    dir: &TempDir,
    sip: &str,
    db_url: &str,
    extra: &[&str],
    level: &str,
    env: &[(String, String)],
) -> Child {
    command(dir, sip, db_url, extra, level)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(&dir.0)
        .spawn()
        .expect("starting hotline")
}

fn command(dir: &TempDir, sip: &str, db_url: &str, extra: &[&str], level: &str) -> Command {
    let rtp_low = rtp_block();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.0.join("server.log"))
        .expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
    cmd.arg("serve")
        .args(["--sip-listen", sip])
        .args([
            "--rtp-ports",
            &format!("{rtp_low}-{}", rtp_low + RTP_BLOCK - 1),
        ])
        .args(["--database", db_url])
        .args(extra)
        .env("RUST_LOG", level)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    cmd
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scripted phone on a plain UDP socket, for flows SIPp cannot express (a lost ACK,
/// answering the server's BYE while also placing a call).
pub struct Phone {
    pub sock: UdpSocket,
    media: UdpSocket,
    pub server: String,
}

/// One received SIP message, loosely read.
#[derive(Debug, Clone)]
pub struct Received {
    pub text: String,
}

impl Received {
    pub fn status(&self) -> Option<u16> {
        let rest = self.text.strip_prefix("SIP/2.0 ")?;
        rest.get(..3)?.parse().ok()
    }
    pub fn method(&self) -> Option<&str> {
        (!self.text.starts_with("SIP/")).then(|| self.text.split(' ').next().unwrap_or(""))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.text.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }
    pub fn to_tag(&self) -> Option<String> {
        Some(
            self.header("To")?
                .split(";tag=")
                .nth(1)?
                .split(';')
                .next()?
                .to_string(),
        )
    }
}

impl Phone {
    pub fn new(server: &str) -> Phone {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("phone socket");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let media = UdpSocket::bind("127.0.0.1:0").expect("phone media socket");
        Phone {
            sock,
            media,
            server: server.to_string(),
        }
    }

    /// The socket this phone's offers name for audio, bound by the system so
    /// parallel tests never collide on a guessed port.
    pub fn media_socket(&self) -> UdpSocket {
        self.media.try_clone().expect("media socket")
    }

    fn media_port(&self) -> u16 {
        self.media.local_addr().expect("addr").port()
    }

    pub fn port(&self) -> u16 {
        self.sock.local_addr().expect("addr").port()
    }

    pub fn send(&self, text: &str) {
        self.sock
            .send_to(text.as_bytes(), &self.server)
            .expect("send");
    }

    /// A request from this phone inside call `call_id`.
    pub fn request(
        &self,
        method: &str,
        call_id: &str,
        cseq: u32,
        branch: &str,
        to_tag: Option<&str>,
        body: &str,
    ) -> String {
        let port = self.port();
        let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        let ctype = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        format!(
            "{method} sip:95555@{server} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: <sip:13800138000@127.0.0.1:{port}>;tag=ph{port}\r\nTo: <sip:95555@{server}>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: <sip:13800138000@127.0.0.1:{port}>\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
            body.len(),
            server = self.server
        )
    }

    /// An offer for audio to this phone's media socket.
    pub fn sdp(&self) -> String {
        format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
            self.media_port()
        )
    }

    /// An offer of PCMU alone: digits can then only come in-band.
    pub fn sdp_without_telephone_event(&self) -> String {
        format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
            self.media_port()
        )
    }

    /// Places a call with `sdp` and acknowledges the 200; returns the To tag.
    pub fn call(&self, call_id: &str, sdp: &str) -> String {
        self.send(&self.request(
            "INVITE",
            call_id,
            1,
            &format!("z9hG4bK{call_id}i"),
            None,
            sdp,
        ));
        let ok = self
            .wait_for(Duration::from_secs(10), |r| {
                r.status() == Some(200) && r.text.contains("INVITE")
            })
            .expect("200 OK to the INVITE");
        let tag = ok.to_tag().expect("To tag");
        self.send(&self.request(
            "ACK",
            call_id,
            1,
            &format!("z9hG4bK{call_id}a"),
            Some(&tag),
            "",
        ));
        tag
    }

    /// Waits up to `limit` for a message that `want` accepts, skipping others.
    pub fn wait_for(&self, limit: Duration, want: impl Fn(&Received) -> bool) -> Option<Received> {
        let end = Instant::now() + limit;
        let mut buf = [0u8; 65_536];
        while Instant::now() < end {
            if let Ok((n, _)) = self.sock.recv_from(&mut buf) {
                let r = Received {
                    text: String::from_utf8_lossy(&buf[..n]).into_owned(),
                };
                if want(&r) {
                    return Some(r);
                }
            }
        }
        None
    }

    /// Answers a request from the server with 200, copying what a response copies.
    pub fn ok(&self, req: &Received) {
        let mut s = String::from("SIP/2.0 200 OK\r\n");
        for l in req.text.lines() {
            let name = l
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if ["via", "from", "to", "call-id", "cseq"].contains(&name.as_str()) {
                s.push_str(l);
                s.push_str("\r\n");
            }
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        self.send(&s);
    }
}

/// Runs SIPp in `dir` with `args` (target, scenario, ports, counts) and returns its last
/// statistics as name -> value, plus "errors" (its error log).
///
/// SIPp 3.6 sometimes finishes every call and then never exits (it waits on its media
/// threads), so it is given a deadline, then SIGTERM, on which it writes its final
/// statistics; the verdict comes from those, not from its exit code.
pub fn run_sipp(
    dir: &Path,
    args: &[String],
    limit: Duration,
) -> std::collections::HashMap<String, String> {
    let sipp = tool("sipp").expect("checked by the caller");
    let mut child = Command::new(sipp)
        .current_dir(dir)
        .args(args)
        .args([
            "-nostdin",
            "-trace_stat",
            "-stf",
            "stat.csv",
            "-fd",
            "1",
            "-trace_err",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("running sipp");
    let deadline = Instant::now() + limit;
    let done = |child: &mut Child| matches!(child.try_wait(), Ok(Some(_)));
    while !done(&mut child) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if !done(&mut child) {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let grace = Instant::now() + Duration::from_secs(10);
        while !done(&mut child) && Instant::now() < grace {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    let errors = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with("_errors.log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    let stat = std::fs::read_to_string(dir.join("stat.csv")).expect("sipp stat file");
    let mut lines = stat.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().expect("stat header").split(';').collect();
    let last: Vec<&str> = lines.next_back().expect("stat line").split(';').collect();
    let mut stats: std::collections::HashMap<String, String> = header
        .iter()
        .zip(last.iter())
        .map(|(h, v)| (h.to_string(), v.to_string()))
        .collect();
    stats.insert("errors".into(), errors);
    stats
}

/// Five seconds of a 440 Hz tone as headerless µ-law, the caller's audio for
/// `../shared/sipp/ivr_uac.xml` (it loops it).
pub fn sipp_caller_audio(dir: &Path) {
    let samples: Vec<u8> = (0..40_000)
        .map(|i| {
            let x = (i as f64 * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin();
            hotline::core::media::g711::linear_to_ulaw((x * 8000.0) as i16)
        })
        .collect();
    std::fs::write(dir.join("caller-audio.ul"), samples).expect("writing caller audio");
}

/// A SIPp caller (`../shared/sipp/ivr_uac.xml`, From user `caller`) that presses `keys`
/// after `wait_ms`: one RFC 4733 capture per key, groups separated by spaces with a pause
/// between them, then `linger_ms` before it hangs up. Written to `dir/keys.xml`.
pub fn sipp_key_scenario(
    dir: &Path,
    caller: &str,
    wait_ms: u32,
    keys: &str,
    linger_ms: u32,
) -> PathBuf {
    let template = std::fs::read_to_string(shared().join("sipp/ivr_uac.xml"))
        .expect("ivr_uac.xml")
        .replace("sip:sipp@", &format!("sip:{caller}@"));
    let mut presses = format!("<pause milliseconds=\"{wait_ms}\"/>\n");
    for group in keys.split(' ') {
        for k in group.chars() {
            let name = match k {
                '#' => "pound".to_string(),
                '*' => "star".to_string(),
                d => d.to_string(),
            };
            presses.push_str(&format!(
                "<nop><action><exec play_pcap_audio=\"/usr/share/sip-tester/dtmf_2833_{name}.pcap\"/></action></nop>\n<pause milliseconds=\"600\"/>\n"
            ));
        }
        presses.push_str("<pause milliseconds=\"2500\"/>\n");
    }
    presses.push_str(&format!("<pause milliseconds=\"{linger_ms}\"/>\n"));
    let start = template
        .find("<pause milliseconds=\"1000\"/>")
        .expect("the scenario's key press");
    let end = template.find("<pause/>").expect("the scenario's hold");
    let xml = format!(
        "{}{}{}",
        &template[..start],
        presses,
        &template[end + "<pause/>".len()..]
    );
    let path = dir.join("keys.xml");
    std::fs::write(&path, xml).unwrap();
    path
}

/// The shipped dial plan in a folder of its own, open around the clock, so an end-to-end
/// test does not depend on the hour it runs at.
pub fn always_open_plan() -> TempDir {
    let dir = TempDir::new("plans");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dialplans/hotline.toml"
    ))
    .unwrap();
    let text = text
        .replace(
            "working_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]",
            "working_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]",
        )
        .replace("09:00-18:00", "00:00-23:59")
        .replace(
            "fri = \"00:00-23:59\"",
            "fri = \"00:00-23:59\"\nsat = \"00:00-23:59\"\nsun = \"00:00-23:59\"",
        );
    std::fs::write(dir.0.join("hotline.toml"), text).unwrap();
    dir
}
