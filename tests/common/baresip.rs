//! baresip softphones as agents: started with a control port, registered with hotline,
//! logged in by feature code; and a running hotline site to add them to.

use super::{Server, TempDir};
use hotline::store::Store;
use std::io::{Read, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the `hotline` command line and returns what it printed; fails on an error.
pub fn hotline(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(args)
        .output()
        .expect("running hotline");
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A baresip agent with auto-answer, a 440 Hz tone as its microphone, and a control port.
pub struct Agent {
    child: Child,
    ctrl: u16,
    dir: TempDir,
}

impl Agent {
    pub fn start(ext: &str, password: &str, server: &str) -> Agent {
        let dir = TempDir::new(&format!("baresip-{ext}"));
        let sip = super::free_port();
        let ctrl = super::free_port();
        let rtp = super::free_ports(20);
        std::fs::write(
            dir.0.join("accounts"),
            format!("<sip:{ext}@{server};transport=udp>;auth_pass={password};answermode=auto;regint=120;ptime=20;audio_codecs=PCMU\n"),
        )
        .unwrap();
        std::fs::write(
            dir.0.join("config"),
            format!(
                "poll_method epoll\nsip_listen 127.0.0.1:{sip}\nsip_trans_def udp\naudio_player aubridge,x\naudio_source ausine,440\nausrc_srate 48000\nausrc_channels 2\nauplay_srate 48000\naudio_alert aubridge,x\nrtp_ports {rtp}-{}\nmodule_path /usr/lib/baresip/modules\nmodule g711.so\nmodule ausine.so\nmodule aubridge.so\nmodule sndfile.so\nsnd_path {}\nmodule_app account.so\nmodule_app menu.so\nmodule_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{ctrl}\n",
                rtp + 19,
                dir.0.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.0.join("baresip.log")).unwrap();
        let child = Command::new("baresip")
            .args(["-v", "-f", &dir.0.display().to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting baresip");
        Agent { child, ctrl, dir }
    }

    /// A command over ctrl_tcp (netstring-framed JSON).
    pub fn command(&self, cmd: &str, params: &str) {
        let end = Instant::now() + Duration::from_secs(10);
        let mut s = loop {
            match TcpStream::connect(("127.0.0.1", self.ctrl)) {
                Ok(s) => break s,
                Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => panic!("baresip control port: {e}"),
            }
        };
        let json = format!("{{\"command\":\"{cmd}\",\"params\":\"{params}\",\"token\":\"t\"}}");
        s.write_all(format!("{}:{json},", json.len()).as_bytes())
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
    }

    /// Presses `keys` one after another, 400 ms apart (as RFC 4733 events).
    pub fn keys(&self, keys: &str) {
        for k in keys.chars() {
            self.command("sndcode", &k.to_string());
            std::thread::sleep(Duration::from_millis(400));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("baresip.log")).unwrap_or_default()
    }

    /// How pure a tone of `hz` the phone heard at its best: over one-second windows of the
    /// decoded audio it received (first channel), the largest share of the window's energy
    /// at `hz` (Goertzel; 1.0 for a clean sine, near 0 for speech or silence).
    pub fn heard_tone(&self, hz: f64) -> f64 {
        let mut best: f64 = 0.0;
        for e in std::fs::read_dir(&self.dir.0).unwrap().flatten() {
            let p = e.path();
            if !p.to_string_lossy().ends_with("-dec.wav") {
                continue;
            }
            let Ok(mut r) = hound::WavReader::open(&p) else {
                continue;
            };
            let spec = r.spec();
            let channels = usize::from(spec.channels.max(1));
            let samples: Vec<f64> = r
                .samples::<i16>()
                .map_while(Result::ok)
                .step_by(channels)
                .map(f64::from)
                .collect();
            let n = spec.sample_rate as usize;
            let coeff = 2.0 * (2.0 * std::f64::consts::PI * hz / spec.sample_rate as f64).cos();
            for w in samples.chunks_exact(n) {
                let energy: f64 = w.iter().map(|x| x * x).sum();
                if energy < 1e3 * n as f64 {
                    continue; // silence
                }
                let (mut s1, mut s2) = (0.0, 0.0);
                for x in w {
                    let s0 = x + coeff * s1 - s2;
                    s2 = s1;
                    s1 = s0;
                }
                let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
                best = best.max(2.0 * power / (n as f64 * energy));
            }
        }
        best
    }

    /// Largest sample in the audio baresip received (its sndfile dump of decoded audio).
    pub fn heard_peak(&self) -> i32 {
        let mut peak = 0;
        for e in std::fs::read_dir(&self.dir.0).unwrap().flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with("-dec.wav") {
                if let Ok(mut r) = hound::WavReader::open(&p) {
                    for s in r.samples::<i16>().map_while(Result::ok) {
                        peak = peak.max(i32::from(s).abs());
                    }
                }
            }
        }
        peak
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 200 ms until it holds, up to `limit`.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// A running hotline with its database, agents added and their phones started.
pub struct Site {
    pub server: Server,
    pub rt: tokio::runtime::Runtime,
    pub store: Store,
    _dirs: Vec<TempDir>,
}

impl Site {
    /// Starts `hotline serve` with `args` (logging at info), keeping `dirs` (the files
    /// the arguments name) for as long as the site runs.
    pub fn start(args: &[String], dirs: Vec<TempDir>) -> Site {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = Server::start_logging(&args, "info,sqlx=warn");
        let rt = tokio::runtime::Runtime::new().unwrap();
        let store = rt.block_on(Store::connect(&server.db_url)).unwrap();
        Site {
            server,
            rt,
            store,
            _dirs: dirs,
        }
    }

    /// Adds agents serving `general` with `hotline agents add`, waits until the server
    /// has picked them up, then starts their phones and waits for the registrations.
    pub fn agents(&self, ids: &[(&str, &str)]) -> Vec<Agent> {
        for (id, name) in ids {
            hotline(&[
                "agents",
                "--database",
                &self.server.db_url,
                "add",
                "--id",
                id,
                "--name",
                name,
                "--password",
                "secret-pass",
                "--queue",
                "general",
            ]);
        }
        // The server polls the agents table every two seconds.
        std::thread::sleep(Duration::from_secs(3));
        let phones: Vec<Agent> = ids
            .iter()
            .map(|(id, _)| {
                let a = Agent::start(id, "secret-pass", &self.server.addr());
                std::thread::sleep(Duration::from_millis(300));
                a
            })
            .collect();
        let registered = wait_until(Duration::from_secs(15), || {
            self.rt
                .block_on(self.store.registrations(hotline::store::now_ms()))
                .is_ok_and(|r| r.len() == ids.len())
        });
        assert!(registered, "{}", self.server.log());
        phones
    }

    /// The agent's last recorded state.
    pub fn state(&self, id: &str) -> String {
        self.rt
            .block_on(self.store.agent(id))
            .ok()
            .flatten()
            .and_then(|a| a.state)
            .map(|s| s.0)
            .unwrap_or_default()
    }

    /// Waits for agent `id` to reach `want`, failing with both logs.
    pub fn wait_state(&self, id: &str, want: &str, phone: &Agent) {
        assert!(
            wait_until(Duration::from_secs(20), || self.state(id) == want),
            "agent {id} never {want} (is {}):\n{}\n{}",
            self.state(id),
            self.server.log(),
            phone.log()
        );
    }

    /// Logs the agent in from the phone with the feature code.
    pub fn login(&self, id: &str, phone: &Agent) {
        phone.command("dial", &format!("sip:*1@{}", self.server.addr()));
        self.wait_state(id, "available", phone);
    }
}
