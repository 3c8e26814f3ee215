//! `hotline callers`: the built binary on a temporary SQLite database. Numbers are masked
//! unless `--show-numbers`; what does not exist is refused by name; a block whose end has
//! passed no longer refuses calls.

mod common;

use common::TempDir;
use std::process::{Command, Output};

fn hotline() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hotline"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HOTLINE_") {
            c.env_remove(k);
        }
    }
    c
}

/// Runs `hotline callers ARGS` on the database in `dir`, with the shipped dial plans (their
/// time zone is Asia/Shanghai) and `USER=ops` as the OS user.
fn callers(dir: &TempDir, args: &[&str]) -> Output {
    let db = format!("sqlite://{}/callers.db", dir.0.display());
    if !dir.0.join("callers.db").exists() {
        common::migrate(&db);
    }
    hotline()
        .env("USER", "ops")
        .args(["callers", "--database", &db])
        .args([
            "--dialplans",
            concat!(env!("CARGO_MANIFEST_DIR"), "/dialplans"),
        ])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Succeeded, with exactly one line on stdout; that line.
fn confirmed(o: &Output) -> String {
    assert!(o.status.success(), "{}{}", stdout(o), stderr(o));
    let text = stdout(o);
    assert_eq!(text.lines().count(), 1, "one confirmation line: {text}");
    text
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

#[test]
fn a_blocked_number_is_listed_masked_unless_asked_for_in_full() {
    let dir = TempDir::new("cli-callers");
    let line = confirmed(&callers(
        &dir,
        &["block", "138 0013-8000", "--reason", "abusive language"],
    ));
    assert!(
        line.contains("138****8000 blocked until unblocked"),
        "{line}"
    );
    assert!(!line.contains("13800138000"), "{line}");

    let list = callers(&dir, &["list"]);
    let text = stdout(&list);
    assert!(list.status.success(), "{}", stderr(&list));
    let row = text
        .lines()
        .find(|l| l.starts_with("blocked"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("138****8000"), "{row}");
    assert!(
        row.contains("abusive language") && row.contains("ops"),
        "{row}"
    );
    assert!(!text.contains("13800138000"), "masked by default: {text}");

    let full = stdout(&callers(&dir, &["list", "--show-numbers"]));
    assert!(full.contains("13800138000"), "{full}");
    assert!(!full.contains("138****8000"), "{full}");

    let v = json(&callers(&dir, &["list", "--json"]));
    let b = &v["blocked"][0];
    assert_eq!(b["number"], "138****8000");
    assert_eq!(b["reason"], "abusive language");
    assert_eq!(b["in_force"], true);
    assert_eq!(b["until"], serde_json::Value::Null);
    assert_eq!(b["by"], "ops");
    assert!(v["flagged"].as_array().unwrap().is_empty());
    let v = json(&callers(&dir, &["list", "--json", "--show-numbers"]));
    assert_eq!(v["blocked"][0]["number"], "13800138000");

    // blocking again replaces the reason, keeps one row, and says so
    let line = confirmed(&callers(
        &dir,
        &[
            "block",
            "13800138000",
            "--reason",
            "threats",
            "--by",
            "lead",
        ],
    ));
    assert!(line.contains("blocked already"), "{line}");
    let v = json(&callers(&dir, &["list", "--json"]));
    assert_eq!(v["blocked"].as_array().unwrap().len(), 1);
    assert_eq!(v["blocked"][0]["reason"], "threats");

    let line = confirmed(&callers(&dir, &["unblock", "138-0013-8000"]));
    assert!(line.contains("138****8000 unblocked"), "{line}");
    let text = stdout(&callers(&dir, &["list"]));
    assert_eq!(text.trim(), "no blocked or flagged callers");
}

#[test]
fn unblocking_a_number_not_blocked_fails_naming_it() {
    let dir = TempDir::new("cli-callers");
    let out = callers(&dir, &["unblock", "13900139000"]);
    assert!(!out.status.success());
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "the error once: {err}");
    assert!(err.contains("139****9000 is not blocked"), "{err}");
    assert!(!err.contains("13900139000"), "{err}");
    let out = callers(&dir, &["unblock", "13900139000", "--show-numbers"]);
    assert!(stderr(&out).contains("13900139000 is not blocked"));

    let out = callers(&dir, &["unflag", "13900139000"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("139****9000 is not flagged"));

    // something that can never match a caller is refused rather than stored
    let out = callers(&dir, &["block", "anonymous", "--reason", "x"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a phone number"),
        "{}",
        stderr(&out)
    );
    let out = callers(&dir, &["block", "13900139000", "--reason", " "]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--reason"), "{}", stderr(&out));
    let out = callers(
        &dir,
        &["block", "13900139000", "--reason", "x", "--until", "soon"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--until soon"), "{}", stderr(&out));
    assert_eq!(
        stdout(&callers(&dir, &["list"])).trim(),
        "no blocked or flagged callers"
    );
}

#[test]
fn a_block_until_a_past_time_does_not_refuse_calls_now() {
    let dir = TempDir::new("cli-callers");
    let line = confirmed(&callers(
        &dir,
        &[
            "block",
            "13700137000",
            "--reason",
            "spam",
            "--until",
            "2020-01-01T08:00",
        ],
    ));
    assert!(line.contains("already past"), "{line}");
    // a local time in the plan's zone, and RFC 3339 with any offset
    confirmed(&callers(
        &dir,
        &[
            "block",
            "13600136000",
            "--reason",
            "spam",
            "--until",
            "2099-12-31T18:00",
        ],
    ));
    confirmed(&callers(
        &dir,
        &[
            "block",
            "13500135000",
            "--reason",
            "spam",
            "--until",
            "2099-12-31T10:00:00Z",
        ],
    ));

    let v = json(&callers(&dir, &["list", "--json", "--show-numbers"]));
    let by_number = |n: &str| {
        v["blocked"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["number"] == n)
            .unwrap_or_else(|| panic!("{n} in {v}"))
            .clone()
    };
    let past = by_number("13700137000");
    assert_eq!(past["in_force"], false);
    assert_eq!(past["until"], "2020-01-01T08:00:00+08:00");
    assert_eq!(
        by_number("13600136000")["until"],
        "2099-12-31T18:00:00+08:00"
    );
    assert_eq!(
        by_number("13500135000")["until"],
        "2099-12-31T18:00:00+08:00"
    );
    assert_eq!(by_number("13600136000")["in_force"], true);

    let text = stdout(&callers(&dir, &["list"]));
    let row = text
        .lines()
        .find(|l| l.contains("137****7000"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.starts_with("expired"), "{row}");
    assert!(row.contains("2020-01-01 08:00"), "{row}");

    // and "now" is what decides: as of 2019 the same block is in force
    let v = json(&callers(
        &dir,
        &["list", "--json", "--now", "2019-06-01T00:00:00+08:00"],
    ));
    assert!(v["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .all(|b| b["in_force"] == true));
}

#[test]
fn flag_and_unflag() {
    let dir = TempDir::new("cli-callers");
    let line = confirmed(&callers(
        &dir,
        &[
            "flag",
            "+86 139 0013 9000",
            "malicious",
            "--note",
            "files a complaint daily",
        ],
    ));
    assert!(line.contains("+86****9000 flagged malicious"), "{line}");

    let text = stdout(&callers(&dir, &["list"]));
    let row = text
        .lines()
        .find(|l| l.starts_with("malicious"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        row.contains("+86****9000") && row.contains("files a complaint daily"),
        "{row}"
    );
    assert!(
        row.contains("ops"),
        "the OS user is the default author: {row}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("blocked")),
        "a flag is no block: {text}"
    );

    let v = json(&callers(&dir, &["list", "--json", "--show-numbers"]));
    let f = &v["flagged"][0];
    assert_eq!(f["number"], "+8613900139000");
    assert_eq!(f["flag"], "malicious");
    assert_eq!(f["note"], "files a complaint daily");
    assert!(v["blocked"].as_array().unwrap().is_empty());

    let out = callers(&dir, &["flag", "13900139000", "rude", "--note", "x"]);
    assert!(!out.status.success(), "only known flags");

    let line = confirmed(&callers(&dir, &["unflag", "+86-139-0013-9000"]));
    assert!(line.contains("+86****9000 unflagged"), "{line}");
    let out = callers(&dir, &["unflag", "+8613900139000"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not flagged"));
}
