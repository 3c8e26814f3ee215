//! Kamailio as the cluster edge (deploy/kamailio/kamailio.cfg) for end-to-end tests: the
//! shipped configuration, run in the foreground on a folder of the test's own, against
//! the test's PostgreSQL database, with the hotline nodes it dispatches to.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The edge configuration in this repository.
pub fn config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kamailio/kamailio.cfg")
}

/// Kamailio's usrloc tables (`version`, `location`) for PostgreSQL; idempotent.
pub const USRLOC_SQL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/deploy/kamailio/usrloc.sql"
));

/// Creates `version` and `location` (deploy/kamailio/usrloc.sql) in `pool`'s database,
/// in the first schema of its search_path; running it again changes nothing.
pub async fn apply_usrloc(pool: &sqlx::PgPool) -> Result<(), String> {
    sqlx::raw_sql(USRLOC_SQL)
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(|e| format!("applying deploy/kamailio/usrloc.sql: {e}"))
}

/// The `kamailio` binary: on PATH, or in /usr/sbin (not on a normal user's PATH).
fn binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("kamailio"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let sbin = PathBuf::from("/usr/sbin/kamailio");
        sbin.is_file().then_some(sbin)
    })
}

/// The PostgreSQL driver of Kamailio (package kamailio-postgres-modules), in the module
/// folders Debian and a source install use.
fn postgres_module() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("kamailio/modules"))
        .collect();
    dirs.extend(
        [
            "/usr/lib/kamailio/modules",
            "/usr/lib64/kamailio/modules",
            "/usr/local/lib64/kamailio/modules",
            "/usr/local/lib/kamailio/modules",
        ]
        .map(PathBuf::from),
    );
    dirs.into_iter()
        .map(|d| d.join("db_postgres.so"))
        .find(|p| p.is_file())
}

/// `None` when Kamailio and its PostgreSQL module are installed; otherwise why the test
/// is skipped (printed). Under CI=true a missing package fails the test instead, as
/// [`super::tool`] does for the other tools.
pub fn available() -> Option<String> {
    if binary().is_none() {
        // not on PATH nor in /usr/sbin: the shared rule (skip, or fail under CI)
        super::tool("kamailio");
        return Some("kamailio is not installed (scripts/test.sh installs it)".into());
    }
    if postgres_module().is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "Kamailio's db_postgres.so is not installed, and CI=true requires it \
             (scripts/test.sh installs kamailio-postgres-modules)"
        );
        let why = "Kamailio's db_postgres.so is not installed (package \
                   kamailio-postgres-modules; scripts/test.sh installs it)";
        println!("skipping: {why}");
        return Some(why.into());
    }
    None
}

/// A running Kamailio edge; SIGTERM, then SIGKILL to its process group, on drop.
pub struct Kamailio {
    child: Child,
    pub listen: SocketAddr,
    pub dir: PathBuf,
    stopped: bool,
}

/// `sip:IP:PORT`, IPv6 in brackets.
fn sip_uri(addr: &SocketAddr) -> String {
    format!("sip:{addr}")
}

/// `udp:IP:PORT` for Kamailio's `listen`.
fn listen_spec(addr: &SocketAddr) -> String {
    format!("udp:{addr}")
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad %-escape in {s:?}"))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|e| format!("{s:?}: {e}"))
}

/// Kamailio's DBURL (`postgres://user@host:port/db`, no password, no query string) and
/// the libpq environment that carries the rest of a sqlx URL: the password
/// (PGPASSWORD), `options` such as the tests' `-c search_path=…` (PGOPTIONS), `sslmode`
/// (PGSSLMODE), `application_name` (PGAPPNAME).
pub fn kamailio_db_url(db_url: &str) -> Result<(String, Vec<(String, String)>), String> {
    let rest = db_url
        .strip_prefix("postgres://")
        .or_else(|| db_url.strip_prefix("postgresql://"))
        .ok_or_else(|| format!("not a PostgreSQL URL: {db_url}"))?;
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let mut env = Vec::new();
    let main = match main.rsplit_once('@') {
        Some((userinfo, hostpart)) => {
            let user = match userinfo.split_once(':') {
                Some((user, password)) => {
                    env.push(("PGPASSWORD".to_string(), percent_decode(password)?));
                    user
                }
                None => userinfo,
            };
            format!("{}@{hostpart}", percent_decode(user)?)
        }
        None => main.to_string(),
    };
    if !main.contains('/') {
        return Err(format!("no database name in {db_url}"));
    }
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value)?;
        let var = match key {
            "options" => "PGOPTIONS",
            "sslmode" => "PGSSLMODE",
            "application_name" => "PGAPPNAME",
            other => {
                return Err(format!(
                    "{db_url}: parameter {other:?} has no libpq variable for Kamailio"
                ))
            }
        };
        env.push((var.to_string(), value));
    }
    if main.contains('"') {
        return Err(format!("a double quote in {db_url}"));
    }
    Ok((format!("postgres://{main}"), env))
}

impl Kamailio {
    /// Writes `dir/dispatcher.list` (set 1 = `nodes`), checks the configuration with
    /// `kamailio -c` (its output is the error), then starts Kamailio in the foreground on
    /// `listen` (UDP) with `dir` as working and runtime folder, logging to
    /// `dir/kamailio.log`, and waits (10 s at most) until it answers an OPTIONS.
    ///
    /// `db_url` is the sqlx URL of the database holding `location` ([`apply_usrloc`]),
    /// `kamailio_subscriber` and `kamailio_agent_node`; see [`kamailio_db_url`].
    /// Nodes count as up from the start; one not answering Kamailio's OPTIONS probes
    /// (every 2 s) is skipped until it does.
    pub fn start(
        dir: &Path,
        db_url: &str,
        listen: SocketAddr,
        nodes: &[SocketAddr],
        realm: &str,
    ) -> Result<Kamailio, String> {
        let binary = binary().ok_or("kamailio is not installed")?;
        if realm.is_empty() || realm.contains('"') {
            return Err(format!("unusable realm {realm:?}"));
        }
        let (dburl, pg_env) = kamailio_db_url(db_url)?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let list = dir.join("dispatcher.list");
        let mut text = String::from("# setid destination flags priority\n");
        for node in nodes {
            text.push_str(&format!("1 {} 0 0\n", sip_uri(node)));
        }
        std::fs::write(&list, text).map_err(|e| format!("{}: {e}", list.display()))?;

        let defines = [
            format!("DBURL=\"{dburl}\""),
            format!("LISTEN={}", listen_spec(&listen)),
            format!("DSLIST=\"{}\"", list.display()),
            format!("REALM=\"{realm}\""),
        ];
        let command = |check: bool| {
            let mut cmd = Command::new(&binary);
            cmd.arg("-f").arg(config());
            if check {
                cmd.arg("-c");
            } else {
                cmd.args(["-DD", "-E", "-m", "64", "-M", "8", "-n", "2"])
                    .arg("-w")
                    .arg(&dir)
                    .arg("-Y")
                    .arg(&dir)
                    .arg("-P")
                    .arg(dir.join("kamailio.pid"));
            }
            for d in &defines {
                cmd.arg("-A").arg(d);
            }
            // `location.expires` is written in Kamailio's local time; hotline reads it
            // in UTC sessions
            cmd.env("TZ", "UTC")
                .envs(pg_env.iter().map(|(k, v)| (k, v)))
                .current_dir(&dir)
                .stdin(Stdio::null());
            cmd
        };

        let check = command(true)
            .output()
            .map_err(|e| format!("running {} -c: {e}", binary.display()))?;
        if !check.status.success() {
            return Err(format!(
                "kamailio -c failed ({}):\n{}{}",
                check.status,
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            ));
        }

        let log_path = dir.join("kamailio.log");
        let log =
            std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let out = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = command(false);
        cmd.stdout(out).stderr(log);
        // its own process group, so that drop can take the workers down with it
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        let mut edge = Kamailio {
            child,
            listen,
            dir,
            stopped: false,
        };
        edge.wait_answering(Duration::from_secs(10))?;
        Ok(edge)
    }

    /// Sends OPTIONS to the edge every 200 ms until any reply comes back; `Err` with the
    /// log when Kamailio exits or `limit` passes first.
    fn wait_answering(&mut self, limit: Duration) -> Result<(), String> {
        let bind: SocketAddr = if self.listen.is_ipv4() {
            "0.0.0.0:0".parse().unwrap()
        } else {
            "[::]:0".parse().unwrap()
        };
        let sock = UdpSocket::bind(bind).map_err(|e| format!("probe socket: {e}"))?;
        sock.connect(self.listen)
            .map_err(|e| format!("probe socket: {e}"))?;
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| e.to_string())?;
        let local = sock.local_addr().map_err(|e| e.to_string())?;
        let end = Instant::now() + limit;
        let mut n = 0u32;
        let mut buf = [0u8; 4096];
        while Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = self.log_excerpt();
                self.stop();
                return Err(format!("kamailio exited ({status}):\n{log}"));
            }
            n += 1;
            let msg = format!(
                "OPTIONS {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-ready-{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:ready@{local}>;tag=ready{n}\r\nTo: <{uri}>\r\nCall-ID: ready-{n}-{pid}@{ip}\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n",
                uri = sip_uri(&self.listen),
                pid = std::process::id(),
                ip = local.ip(),
            );
            let _ = sock.send(msg.as_bytes());
            if let Ok(len) = sock.recv(&mut buf) {
                if buf[..len].starts_with(b"SIP/2.0 ") {
                    return Ok(());
                }
            }
        }
        self.stop();
        Err(format!(
            "kamailio did not answer OPTIONS on {} within {limit:?}:\n{}",
            self.listen,
            self.log_excerpt()
        ))
    }

    /// The edge's address as `IP:PORT`.
    pub fn addr(&self) -> String {
        self.listen.to_string()
    }

    /// Kamailio's own PID (the main process; its workers are in its process group).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What Kamailio has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kamailio.log")).unwrap_or_default()
    }

    /// The log for an error message: all of it, or its first 60 and last 20 lines.
    fn log_excerpt(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        if lines.len() <= 80 {
            return log;
        }
        format!(
            "{}\n[... {} lines ...]\n{}",
            lines[..60].join("\n"),
            lines.len() - 80,
            lines[lines.len() - 20..].join("\n")
        )
    }

    /// Waits until the log contains `needle` (e.g. "hotline node UP: sip:127.0.0.11:5060"
    /// after a node came back), up to `limit`.
    pub fn wait_log(&self, needle: &str, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM (Kamailio stops its workers and exits), SIGKILL after 5 s; then SIGKILL to
    /// whatever is left of its process group (workers of a main process that crashed);
    /// reaps the main process. Once.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let pid = self.child.id().to_string();
        if self.is_running() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid])
                .stderr(Stdio::null())
                .status();
            let end = Instant::now() + Duration::from_secs(5);
            while self.is_running() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        self.stop();
    }
}
