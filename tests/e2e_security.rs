//! Attack tools against a running hotline (loopback only): `svwar` must find no
//! extension, and `svcrack` must be shut out after a few guesses even with the right
//! password in its dictionary.

mod common;

use common::{tool, Server, TempDir};
use std::process::Command;

fn sipvicious(name: &str, args: &[String]) -> String {
    let out = Command::new(name)
        .args(args)
        .output()
        .expect("running sipvicious");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn server_with_agent(dir: &TempDir) -> Server {
    // svcrack only speaks MD5 and reads only the first challenge: let it through to the
    // password check, so the ban is what stops it, not its own limitation.
    let queues = dir.0.join("queues.toml");
    std::fs::write(
        &queues,
        "[features]\nmd5_only_user_agents = [\"friendly-scanner\"]\n",
    )
    .unwrap();
    let server = Server::start_logging(
        &["--queues", &queues.display().to_string()],
        "info,sqlx=warn",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args([
            "agents",
            "--database",
            &server.db_url,
            "add",
            "--id",
            "1024",
        ])
        .args([
            "--name",
            "Test",
            "--password",
            "correct-horse-9",
            "--queue",
            "general",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // The server picks the agent up within two seconds.
    std::thread::sleep(std::time::Duration::from_secs(3));
    server
}

#[test]
fn svwar_finds_no_extension() {
    if tool("svwar").is_none() {
        return;
    }
    let dir = TempDir::new("svwar");
    let server = server_with_agent(&dir);
    let target = format!("udp://{}", server.addr());
    for method in ["REGISTER", "OPTIONS", "INVITE"] {
        let out = sipvicious(
            "svwar",
            &[
                "--force".into(),
                "-m".into(),
                method.into(),
                "-e1000-1100".into(),
                target.clone(),
            ],
        );
        assert!(
            !out.contains("| 1024"),
            "{method} scan found the agent's extension:\n{out}"
        );
        assert!(out.contains("found nothing"), "{method}:\n{out}");
    }
}

#[test]
fn svcrack_is_shut_out_after_a_few_guesses() {
    if tool("svcrack").is_none() {
        return;
    }
    let dir = TempDir::new("svcrack");
    let server = server_with_agent(&dir);
    let dict = dir.0.join("dict.txt");
    let mut words: Vec<String> = (1..=20).map(|i| format!("guess{i}")).collect();
    words.push("correct-horse-9".into());
    std::fs::write(&dict, words.join("\n") + "\n").unwrap();
    let out = sipvicious(
        "svcrack",
        &[
            "-u1024".into(),
            "-d".into(),
            dict.display().to_string(),
            format!("udp://{}", server.addr()),
        ],
    );
    assert!(
        !out.contains("correct-horse-9"),
        "svcrack found the password:\n{out}"
    );
    let log = server.log();
    let failures = log
        .lines()
        .filter(|l| l.contains("hotline::security") && l.contains("event=\"auth_failure\""))
        .count();
    assert!(
        (1..=5).contains(&failures),
        "{failures} guesses were checked before the ban:\n{log}"
    );
    assert!(log.contains("event=\"source_banned\""), "{log}");
}
