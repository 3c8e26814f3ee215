//! End-to-end dial plans: the running server follows the plan, reloads it when the
//! file changes (calls in progress keep theirs), and keeps the old plan when the new
//! file is broken.

mod common;

use common::{Phone, Server, TempDir};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

fn plan_dir() -> (TempDir, std::path::PathBuf, String) {
    let dir = TempDir::new("plans");
    let file = dir.0.join("hotline.toml");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dialplans/hotline.toml"
    ))
    .unwrap();
    std::fs::write(&file, &text).unwrap();
    (dir, file, text)
}

/// Places a call and returns its To tag once answered.
fn call(phone: &Phone, id: &str) -> String {
    phone.call(id, &phone.sdp())
}

fn hang_up(phone: &Phone, id: &str, tag: &str) {
    phone.send(&phone.request("BYE", id, 9, &format!("z9hG4bK{id}bye"), Some(tag), ""));
    phone
        .wait_for(WAIT, |r| r.status() == Some(200) && r.text.contains("BYE"))
        .expect("200 to BYE");
}

/// Waits until the server's log says something, or the limit.
fn wait_log(server: &Server, needle: &str) -> bool {
    let end = Instant::now() + WAIT;
    while Instant::now() < end {
        if server.log().contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn plan_changes_apply_to_new_calls_and_broken_ones_are_refused() {
    let (dir, file, text) = plan_dir();
    let plans = dir.0.display().to_string();
    let prompts = concat!(env!("CARGO_MANIFEST_DIR"), "/prompts");
    let mut server = Server::start_logging(
        &[
            "--ring-delay-ms",
            "0",
            "--dialplans",
            &plans,
            "--prompts",
            prompts,
        ],
        "info,sqlx=warn",
    );
    let phone = Phone::new(&server.addr());
    let first = call(&phone, "reload-1");
    // during the first call the plan changes to English
    std::fs::write(
        &file,
        text.replacen("language = \"zh-CN\"", "language = \"en\"", 1),
    )
    .unwrap();
    assert!(wait_log(&server, "dial plans reloaded"), "{}", server.log());
    let second = call(&phone, "reload-2");
    // a broken file: the English plan stays in force, the log names file and line
    std::fs::write(
        &file,
        text.replacen("start = \"welcome\"", "start = \"nowhere\"", 1),
    )
    .unwrap();
    assert!(wait_log(&server, "dial plan rejected"), "{}", server.log());
    let log = server.log();
    let line = text
        .lines()
        .position(|l| l.starts_with("start = "))
        .unwrap()
        + 1;
    assert!(
        log.contains(&format!("hotline.toml:{line}:")),
        "the log names file and line:\n{log}"
    );
    let third = call(&phone, "reload-3");
    for (id, tag) in [
        ("reload-1", &first),
        ("reload-2", &second),
        ("reload-3", &third),
    ] {
        hang_up(&phone, id, tag);
    }
    assert!(server.stop().success());
    let calls = server.calls();
    let lang = |id: &str| {
        calls
            .iter()
            .find(|c| c.sip_call_id == id)
            .map(|c| c.id.clone())
            .unwrap()
    };
    let languages: Vec<Option<String>> = ["reload-1", "reload-2", "reload-3"]
        .iter()
        .map(|id| server.language(&lang(id)))
        .collect();
    assert_eq!(
        languages,
        vec![Some("zh-CN".into()), Some("en".into()), Some("en".into())],
        "the call in progress kept its plan; the broken file changed nothing"
    );
}

#[test]
fn sipp_keys_through_a_verified_billing_enquiry() {
    let Some(sipp) = common::tool("sipp") else {
        return;
    };
    let plans_dir = common::always_open_plan();
    let plans = plans_dir.0.display().to_string();
    let prompts = concat!(env!("CARGO_MANIFEST_DIR"), "/prompts");
    let mut server = Server::start_logging(
        &[
            "--ring-delay-ms",
            "0",
            "--dialplans",
            &plans,
            "--prompts",
            prompts,
        ],
        "debug,sqlx=warn",
    );
    let work = TempDir::new("sipp-keys");
    let csv = work.0.join("customers.csv");
    std::fs::write(&csv, "account,name,pin,id_last_digits,phones,vip\n6225880012345678,Li Lei,908172,12345X,13800138000,false\n").unwrap();
    let import = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args([
            "customers",
            "import",
            csv.to_str().unwrap(),
            "--database",
            &server.db_url,
        ])
        .output()
        .unwrap();
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let audio: Vec<u8> = vec![0xFF; 8000 * 40];
    std::fs::write(work.0.join("caller-audio.ul"), audio).unwrap();
    // 2 English, 1 billing, the account, the PIN
    let scenario =
        common::sipp_key_scenario(&work.0, "sipp", 9000, "2 1 6225880012345678# 908172#", 6000);
    let out = std::process::Command::new(sipp)
        .current_dir(&work.0)
        .arg(server.addr())
        .args([
            "-sf",
            scenario.to_str().unwrap(),
            "-s",
            "95555",
            "-i",
            "127.0.0.1",
        ])
        .args([
            "-p",
            &common::free_port().to_string(),
            "-mi",
            "127.0.0.1",
            "-mp",
            &common::free_ports(4).to_string(),
        ])
        .args([
            "-m",
            "1",
            "-r",
            "1",
            "-d",
            "1000",
            "-nostdin",
            "-timeout",
            "90",
            "-trace_err",
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(out.success(), "sipp call failed:\n{}", server.log());
    assert!(server.stop().success());
    let calls = server.calls();
    assert_eq!(calls.len(), 1);
    let ivr = server.ivr(&calls[0].id).expect("the call's IVR columns");
    assert_eq!(
        ivr.language.as_deref(),
        Some("en"),
        "{ivr:?}\n{}",
        server.log()
    );
    assert_eq!(ivr.verified, Some(true), "{ivr:?}\n{:?}", server.events());
    assert_eq!(ivr.customer.as_deref(), Some("6225880012345678"));
    assert_eq!(ivr.outcome.as_deref(), Some("billing_enquiry"));
    // the PIN is nowhere: not in the database files, not in the log
    for f in std::fs::read_dir(&server.dir.0).unwrap().flatten() {
        let bytes = std::fs::read(f.path()).unwrap_or_default();
        assert!(
            !bytes.windows(6).any(|w| w == b"908172"),
            "PIN digits found in {}",
            f.path().display()
        );
    }
}
