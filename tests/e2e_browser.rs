//! The wallboard and the desk in a real Chromium, driven through ChromeDriver, against a
//! running hotline with a baresip agent and a caller on SIP: the waiting count follows a
//! caller into the queue and out, an agent's `*3` pause shows up, and a supervisor
//! resolves a complaint on the desk. Screenshots land in `target/browser-artifacts/`.

mod common;

use common::baresip::{hotline, wait_until, Site};
use common::{free_port, tool, Phone, TempDir};
use fantoccini::{Client, ClientBuilder, Locator};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PLAN: &str = include_str!("fixtures/queue-plan.toml");

const QUEUES: &str = r#"
[queues.general]
max_wait_secs = 120
announce_every_secs = 30
wait_when_empty = true
alert_wait_secs = 600
"#;

/// ChromeDriver on a free port and the browser profile it runs Chromium in; both are
/// ended on drop, Chromium too even when a failed test never closed its session.
struct Driver(Child, u16, TempDir);

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver");
        let up = wait_until(Duration::from_secs(15), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "chromedriver did not listen on {port}");
        Driver(child, port, TempDir::new("chromium"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let profile = format!("--user-data-dir={}", self.2 .0.display());
        let _ = Command::new("pkill").args(["-f", &profile]).status();
    }
}

async fn browser(driver: &Driver) -> Client {
    // The flags keep a headless Chromium off the network this machine does not have.
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": tool("chromium").expect("chromium"),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--lang=zh-CN",
                "--window-size=1600,1000",
                format!("--user-data-dir={}", driver.2 .0.display()),
            ]
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("a Chromium session")
}

/// Where screenshots go, kept after the test for a person to look at.
fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn log_in(c: &Client, base: &str, token: &str, next: &str) {
    c.delete_all_cookies().await.unwrap();
    c.goto(&format!("{base}/login?next={next}")).await.unwrap();
    // The viewer's language, kept by the browser for every page.
    c.find(Locator::Css("#lang option[value='zh-CN']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(token)
        .await
        .unwrap();
    c.find(Locator::Css("form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Polls `css`'s attribute `attr` (or its text) until it is `want`; returns how long that
/// took, or fails with what it was.
async fn wait_for(c: &Client, css: &str, attr: Option<&str>, want: &str) -> Duration {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            let got = match attr {
                Some(a) => e.attr(a).await.ok().flatten(),
                None => e.text().await.ok(),
            };
            if let Some(got) = got {
                if got == want {
                    return start.elapsed();
                }
                last = got;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never showed {want:?} (last {last:?})");
}

fn token(db: &str, name: &str, role: &str) -> String {
    hotline(&[
        "tokens",
        "--database",
        db,
        "add",
        "--name",
        name,
        "--role",
        role,
    ])
    .trim()
    .to_string()
}

/// A caller in the queue, on the test's own SIP socket; returns the phone and To tag.
fn call_in(addr: &str, id: &str) -> (Phone, String) {
    let phone = Phone::new(addr);
    let tag = phone.call(id, &phone.sdp());
    (phone, tag)
}

#[test]
fn wallboard_follows_the_queue_and_the_desk_resolves_a_complaint() {
    if tool("chromium").is_none() || tool("chromedriver").is_none() || tool("baresip").is_none() {
        return;
    }
    let dir = TempDir::new("browser");
    std::fs::create_dir_all(dir.0.join("plans")).unwrap();
    std::fs::write(dir.0.join("plans/test.toml"), PLAN).unwrap();
    std::fs::write(dir.0.join("queues.toml"), QUEUES).unwrap();
    let http = free_port();
    let args: Vec<String> = [
        "--dialplans",
        &dir.0.join("plans").display().to_string(),
        "--queues",
        &dir.0.join("queues.toml").display().to_string(),
        "--prompts",
        concat!(env!("CARGO_MANIFEST_DIR"), "/prompts"),
        "--http-listen",
        &format!("127.0.0.1:{http}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let site = Site::start(&args, vec![dir]);
    let db = site.server.db_url.clone();
    let base = format!("http://127.0.0.1:{http}");
    let phones = site.agents(&[("1024", "李雷")]);
    site.login("1024", &phones[0]);
    let wall = token(&db, "wall-screen", "viewer");
    let boss = token(&db, "supervisor", "supervisor");

    let driver = Driver::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = browser(&driver).await;
        log_in(&c, &base, &wall, "/").await;
        let waiting = "article[data-queue='general'] [data-field='waiting']";
        let state = "tr[data-agent='1024'] [data-field='state']";
        wait_for(&c, waiting, None, "0").await;
        wait_for(&c, state, Some("data-state"), "available").await;

        // The agent pauses from the phone: the board shows it without a reload.
        phones[0].command("dial", &format!("sip:*3@{}", site.server.addr()));
        let start = Instant::now();
        while agent_state(&site, "1024").await != "paused" {
            assert!(start.elapsed() < Duration::from_secs(10), "never paused");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let shown_after = wait_for(&c, state, Some("data-state"), "paused").await;
        println!("pause shown on the wallboard {shown_after:?} after the server recorded it");

        // A caller enters the queue (the only agent is paused) and leaves it.
        let (caller, tag) = call_in(&site.server.addr(), "browser-1");
        wait_for(&c, waiting, None, "1").await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let png = c.screenshot().await.unwrap();
        std::fs::write(artifacts().join("wallboard.png"), png).unwrap();
        caller.send(&caller.request("BYE", "browser-1", 2, "z9hG4bKbrowserbye", Some(&tag), ""));
        wait_for(&c, waiting, None, "0").await;

        // The desk: a supervisor resolves a complaint.
        let id = hotline(&[
            "followups",
            "--database",
            &db,
            "create",
            "--kind",
            "complaint",
            "--number",
            "13800138000",
            "--category",
            "billing",
            "--urgency",
            "3",
        ])
        .trim()
        .to_string();
        log_in(&c, &base, &boss, "/desk").await;
        let row = format!("tr[data-id='{id}']");
        c.wait()
            .for_element(Locator::Css(&row))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.wait()
            .for_element(Locator::Css("button[data-action='resolve']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.send_alert_text("refunded").await.unwrap();
        c.accept_alert().await.unwrap();
        wait_for(&c, "dd[data-field='status']", None, "已解决").await;
        let png = c.screenshot().await.unwrap();
        std::fs::write(artifacts().join("desk.png"), png).unwrap();
        c.close().await.unwrap();
    });
    let f = rt
        .block_on(site.store.followup(&id_of(&site)))
        .unwrap()
        .unwrap();
    assert_eq!(f.status.as_str(), "resolved");
    assert_eq!(f.outcome.as_deref(), Some("refunded"));
}

/// The agent's last recorded state.
async fn agent_state(site: &Site, id: &str) -> String {
    let agent = site.store.agent(id).await.ok().flatten();
    agent.and_then(|a| a.state).map(|s| s.0).unwrap_or_default()
}

/// The one complaint the test made.
fn id_of(site: &Site) -> String {
    site.rt
        .block_on(site.store.followups())
        .unwrap()
        .into_iter()
        .find(|f| f.kind.as_str() == "complaint")
        .expect("the complaint")
        .id
        .clone()
}
