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
