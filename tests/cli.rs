//! The command line contract: check, migrate, --version, settings precedence
//! (flag > environment > file > default), a complaint worked to closure with its revisit,
//! masked numbers, and reports in the dial plan's language.

mod common;

use common::TempDir;
use hotline::config::Overrides;
use std::process::Command;

fn hotline() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hotline"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HOTLINE_") {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn version_prints_the_crate_version() {
    let out = hotline().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn check_reports_each_bad_setting_on_its_own_line() {
    let dir = TempDir::new("cli");
    let out = hotline()
        .current_dir(&dir.0)
        .args([
            "check",
            "--sip-listen",
            "nonsense",
            "--rtp-ports",
            "20000-10000",
        ])
        .env("HOTLINE_RING_DELAY_MS", "soon")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("sip_listen") && l.contains("'nonsense'")),
        "{text}"
    );
    assert!(lines.iter().any(|l| l.starts_with("rtp_ports")), "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ring_delay_ms") && l.contains("HOTLINE_RING_DELAY_MS")),
        "{text}"
    );
}

#[test]
fn check_passes_in_the_repository_and_fails_without_its_folders() {
    let ok = hotline()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("check")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let dir = TempDir::new("cli");
    let bad = hotline().current_dir(&dir.0).arg("check").output().unwrap();
    assert!(!bad.status.success());
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(
        text.contains("dialplans") && text.contains("prompts"),
        "{text}"
    );
}

#[test]
fn serve_refuses_to_start_on_a_bad_setting() {
    let out = hotline()
        .args(["serve", "--database", "mysql://x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("database"));
}

#[test]
fn migrate_creates_the_schema() {
    let dir = TempDir::new("cli");
    let url = format!("sqlite://{}/m.db", dir.0.display());
    for _ in 0..2 {
        let out = hotline()
            .args(["migrate", "--database", &url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dir.0.join("m.db").exists());
}

#[test]
fn precedence_is_flag_then_environment_then_file_then_default() {
    let dir = TempDir::new("cli");
    let file = dir.0.join("hotline.toml");
    std::fs::write(
        &file,
        "sip_listen = \"127.0.0.1:5070\"\nring_delay_ms = 250\ndrain_secs = 7\n",
    )
    .unwrap();
    let o = Overrides {
        config: Some(file.clone()),
        ..Default::default()
    };
    let c = o.load().unwrap();
    assert_eq!(
        c.sip_listen.to_string(),
        "127.0.0.1:5070",
        "file over default"
    );
    assert_eq!(c.ring_delay.as_millis(), 250);
    assert_eq!(c.drain.as_secs(), 7);
    assert_eq!(c.rtp_ports, (10000, 20000), "default");
    // a flag (or its environment variable, which clap folds into the same field) wins
    let o = Overrides {
        config: Some(file.clone()),
        sip_listen: Some("127.0.0.1:5080".into()),
        ..Default::default()
    };
    assert_eq!(o.load().unwrap().sip_listen.to_string(), "127.0.0.1:5080");
    // and the real binary: environment over file, flag over environment
    let out = hotline()
        .args([
            "check",
            "--config",
            file.to_str().unwrap(),
            "--dialplans",
            concat!(env!("CARGO_MANIFEST_DIR"), "/dialplans"),
        ])
        .args(["--prompts", concat!(env!("CARGO_MANIFEST_DIR"), "/prompts")])
        .env("HOTLINE_DRAIN_SECS", "-1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("drain_secs") && text.contains("'-1'"),
        "environment beat the file: {text}"
    );
    let out = hotline()
        .args([
            "check",
            "--config",
            file.to_str().unwrap(),
            "--drain-secs",
            "3",
        ])
        .args([
            "--dialplans",
            concat!(env!("CARGO_MANIFEST_DIR"), "/dialplans"),
        ])
        .args(["--prompts", concat!(env!("CARGO_MANIFEST_DIR"), "/prompts")])
        .env("HOTLINE_DRAIN_SECS", "-1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the flag beat the environment: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn unknown_keys_in_the_file_are_problems() {
    let dir = TempDir::new("cli");
    let file = dir.0.join("hotline.toml");
    std::fs::write(&file, "sip_lisen = \"127.0.0.1:5070\"\n").unwrap();
    let o = Overrides {
        config: Some(file),
        ..Default::default()
    };
    let err = o.load().unwrap_err().to_string();
    assert!(err.contains("sip_lisen"), "{err}");
}

/// Writes a WAV with the given format.
fn wav(path: &std::path::Path, channels: u16, rate: u32) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(rate as usize * channels as usize / 10) {
        w.write_sample(((i % 50) as i16 - 25) * 100).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn check_names_prompts_in_the_wrong_format() {
    let dir = TempDir::new("cli");
    let en = dir.0.join("prompts/en");
    std::fs::create_dir_all(&en).unwrap();
    std::fs::create_dir_all(dir.0.join("dialplans")).unwrap();
    wav(&en.join("good.wav"), 1, 8000);
    wav(&en.join("stereo.wav"), 2, 8000);
    wav(&en.join("cd_rate.wav"), 1, 44100);
    let out = hotline().current_dir(&dir.0).arg("check").output().unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let stereo = text
        .lines()
        .find(|l| l.contains("stereo.wav"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(stereo.contains("2 channels"), "{stereo}");
    let rate = text
        .lines()
        .find(|l| l.contains("cd_rate.wav"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(rate.contains("44100"), "{rate}");
    assert!(!text.contains("good.wav"), "{text}");
    // serve refuses to start on them too
    let out = hotline()
        .current_dir(&dir.0)
        .args(["serve", "--sip-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stereo.wav"));
}

#[test]
fn check_names_file_and_line_of_a_broken_dial_plan() {
    let dir = TempDir::new("cli");
    let plans = dir.0.join("dialplans");
    std::fs::create_dir_all(&plans).unwrap();
    let good = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dialplans/hotline.toml"
    ))
    .unwrap();
    // point one reference at a node that does not exist
    let line = good
        .lines()
        .position(|l| l.trim_start().starts_with("next = "))
        .expect("a next =")
        + 1;
    let broken: Vec<String> = good
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == line {
                "next = \"no_such_node\"".to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(plans.join("broken.toml"), broken.join("\n")).unwrap();
    let out = hotline()
        .current_dir(&dir.0)
        .args([
            "check",
            "--prompts",
            concat!(env!("CARGO_MANIFEST_DIR"), "/prompts"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let expected = format!("broken.toml:{line}:");
    assert!(
        text.contains(&expected) && text.contains("no_such_node"),
        "{text}"
    );
}

#[test]
fn customers_import_hashes_secrets() {
    let dir = TempDir::new("cli");
    let csv = dir.0.join("c.csv");
    std::fs::write(&csv, "account,name,pin,id_last_digits,phones,vip\n6225880012345678,Li Lei,908172,12345X,13800138000;01012345678,true\n").unwrap();
    let url = common::migrated_db(&dir, "c");
    let out = hotline()
        .args([
            "customers",
            "import",
            csv.to_str().unwrap(),
            "--database",
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 customers imported"));
    let db = std::fs::read(dir.0.join("c.db")).unwrap();
    let wal = std::fs::read(dir.0.join("c.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(6).any(|w| w == b"908172"),
            "the PIN is not stored in clear"
        );
    }
}

#[test]
fn simulate_walks_a_verified_billing_enquiry_without_showing_the_pin() {
    let dir = TempDir::new("cli");
    let csv = dir.0.join("c.csv");
    std::fs::write(&csv, "account,name,pin,id_last_digits,phones,vip\n6225880012345678,Li Lei,908172,12345X,13800138000,false\n").unwrap();
    let out = hotline()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "simulate",
            "dialplans/hotline.toml",
            "--at",
            "2026-11-23T09:30",
            "--caller",
            "13800138000",
        ])
        .args([
            "--keys",
            "2 1 6225880012345678# 908172#",
            "--customers",
            csv.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("verify: ok"), "{text}");
    assert!(text.contains("outcome billing_enquiry"), "{text}");
    assert!(!text.contains("908172"), "the PIN is never shown");
    // the wrong PIN fails verification
    let out = hotline()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "simulate",
            "dialplans/hotline.toml",
            "--at",
            "2026-11-23T09:30",
        ])
        .args([
            "--keys",
            "2 1 6225880012345678# 111111#",
            "--customers",
            csv.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("verify: failed"), "{text}");
}

#[test]
fn check_names_the_trunk_and_reason_in_a_bad_trunks_file() {
    let dir = TempDir::new("cli-trunks");
    let trunks = dir.0.join("trunks.toml");
    let text = "[[trunks]]\nname = \"carrier\"\naddress = \"sip.carrier.example\"\ncaller_id = \"4008001234\"\n[trunks.register]\nuser = \"hotline\"\npassword = \"pw-never-shown\"\n";
    std::fs::write(&trunks, text).unwrap();
    let check = || {
        hotline()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["check", "--trunks", &trunks.display().to_string()])
            .output()
            .unwrap()
    };
    let out = check();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "trunks.toml: trunk \"carrier\": address \"sip.carrier.example\" is not host:port"
        ),
        "{text}"
    );
    assert!(!text.contains("pw-never-shown"), "{text}");
    let fixed = std::fs::read_to_string(&trunks)
        .unwrap()
        .replace("sip.carrier.example", "sip.carrier.example:5060");
    std::fs::write(&trunks, fixed).unwrap();
    let out = check();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The example trunk files shipped in deploy/trunks/ stay valid as the file format moves on.
#[test]
fn shipped_trunk_examples_pass_check() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["carrier.toml", "asterisk.toml"] {
        let file = root.join("deploy/trunks").join(name);
        let out = hotline()
            .current_dir(root)
            .args(["check", "--trunks", &file.display().to_string()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name}: {text}");
        assert!(!text.contains("change-me"), "{name}: {text}");
    }
}

#[test]
fn check_names_a_bad_queues_file_and_agents_cli_round_trips() {
    let dir = TempDir::new("cli-queues");
    let queues = dir.0.join("queues.toml");
    std::fs::write(&queues, "[queues.billing]\nring_timeout_secs = 0\n").unwrap();
    let out = hotline()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check", "--queues", &queues.display().to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("queues.toml: queue billing: ring_timeout_secs must be at least 1"),
        "{text}"
    );

    // Agents: added with HA1 values only, listed, refused twice, removed.
    let db = common::migrated_db(&dir, "agents");
    let run = |args: &[&str]| {
        hotline()
            .args(["agents", "--database", &db])
            .args(args)
            .output()
            .unwrap()
    };
    let add = run(&[
        "add",
        "--id",
        "1024",
        "--name",
        "Li Lei",
        "--password",
        "pass-word-1",
        "--queue",
        "billing:2",
    ]);
    assert!(add.status.success(), "{add:?}");
    let list = String::from_utf8_lossy(&run(&["list", "--json"]).stdout).into_owned();
    assert!(
        list.contains("\"id\":\"1024\"") && list.contains("\"penalty\":2"),
        "{list}"
    );
    assert!(list.contains("\"state\":\"logged_out\""), "{list}");
    let again = run(&[
        "add",
        "--id",
        "1024",
        "--name",
        "X",
        "--password",
        "pass-word-1",
    ]);
    assert!(!again.status.success());
    let weak = run(&["add", "--id", "2048", "--name", "X", "--password", "short"]);
    assert!(!weak.status.success());
    for file in ["agents.db", "agents.db-wal"] {
        let raw = std::fs::read(dir.0.join(file)).unwrap_or_default();
        assert!(
            !raw.windows(11).any(|w| w == b"pass-word-1"),
            "the password itself is never stored ({file})"
        );
    }
    assert!(run(&["remove", "1024"]).status.success());
    assert!(!run(&["remove", "1024"]).status.success());
}

/// Runs hotline in `dir` and returns its standard output, failing on a non-zero exit.
fn ok_in(dir: &std::path::Path, args: &[&str]) -> String {
    let out = hotline().current_dir(dir).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn database_is_accepted_before_and_after_the_subcommand() {
    // Run in an empty folder: a flag that was ignored would fall back to ./hotline.db,
    // which does not exist there.
    let dir = TempDir::new("cli-global");
    let db = common::migrated_db(&dir, "global");
    ok_in(
        &dir.0,
        &[
            "agents",
            "add",
            "--id",
            "1024",
            "--name",
            "Li Lei",
            "--password",
            "pass-word-1",
            "--database",
            &db,
        ],
    );
    for args in [
        vec!["--database", &db, "agents", "list", "--json"],
        vec!["agents", "--database", &db, "list", "--json"],
        vec!["agents", "list", "--json", "--database", &db],
    ] {
        let list = ok_in(&dir.0, &args);
        assert!(list.contains("\"id\":\"1024\""), "{args:?}: {list}");
    }

    let plans = concat!(env!("CARGO_MANIFEST_DIR"), "/dialplans");
    let id = ok_in(
        &dir.0,
        &[
            "--database",
            &db,
            "followups",
            "create",
            "--kind",
            "callback",
            "--number",
            "13700137000",
            "--dialplans",
            plans,
        ],
    );
    let id = id.trim();
    for args in [
        vec!["--database", &db, "followups", "list", "--json"],
        vec!["followups", "list", "--json", "--database", &db],
    ] {
        let list = ok_in(&dir.0, &[&args[..], &["--dialplans", plans]].concat());
        assert!(
            list.contains(id) && list.contains("137****7000") && !list.contains("13700137000"),
            "{args:?}: {list}"
        );
    }
    let list = ok_in(
        &dir.0,
        &[
            "followups",
            "list",
            "--json",
            "--show-numbers",
            "--database",
            &db,
            "--dialplans",
            plans,
        ],
    );
    assert!(list.contains("13700137000"), "{list}");
}

const PLANS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/dialplans");
/// Monday 23 November 2026, 10:00 in Shanghai, and an hour later.
const MONDAY: &str = "2026-11-23T10:00:00+08:00";
const AN_HOUR_ON: &str = "2026-11-23T11:00:00+08:00";

/// `hotline followups ARGS` on `db` as of `now`.
fn followups(db: &str, now: &str, args: &[&str]) -> std::process::Output {
    hotline()
        .args([
            "followups",
            "--database",
            db,
            "--dialplans",
            PLANS,
            "--now",
            now,
        ])
        .args(["--by", "1024"])
        .args(args)
        .output()
        .unwrap()
}

/// The same, which must succeed; its standard output.
fn fu_ok(db: &str, now: &str, args: &[&str]) -> String {
    let out = followups(db, now, args);
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The same, which must fail; its one error line.
fn fu_err(db: &str, now: &str, args: &[&str]) -> String {
    let out = followups(db, now, args);
    assert!(!out.status.success(), "{args:?} succeeded: {out:?}");
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

fn show(db: &str, id: &str) -> serde_json::Value {
    serde_json::from_str(&fu_ok(db, AN_HOUR_ON, &["show", id, "--json"])).unwrap()
}

fn notes(v: &serde_json::Value) -> Vec<String> {
    v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap().to_string())
        .collect()
}

fn new_complaint(db: &str) -> String {
    let args = ["create", "--kind", "complaint", "--number", "13800138000"];
    let out = fu_ok(db, MONDAY, &[&args[..], &["--urgency", "3"]].concat());
    out.trim().to_string()
}

#[test]
fn a_complaint_is_contacted_resolved_revisited_and_closed() {
    let dir = TempDir::new("cli-complaint");
    let db = common::migrated_db(&dir, "c");
    let db = db.as_str();
    let id = new_complaint(db);
    let id = id.as_str();

    // four due times; the contact step is due 12 hours on, and overdue after it
    let c = show(db, id);
    let at = |k: &str| {
        chrono::DateTime::parse_from_rfc3339(c[k].as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    assert_eq!(
        at("due_contact") - at("created_at"),
        12 * 3_600_000,
        "{c:#}"
    );
    assert_eq!(c["number"], "138****8000", "masked unless --show-numbers");
    let table = fu_ok(db, MONDAY, &["list"]);
    assert!(table.contains("CONTACT BY"), "{table}");
    // (on a database of its own, so the late complaint leaves the rest alone)
    let late_db = common::migrated_db(&dir, "late");
    new_complaint(&late_db);
    let late = fu_ok(
        &late_db,
        "2026-11-23T22:01:00+08:00",
        &["list", "--overdue"],
    );
    assert!(late.contains("OVERDUE(forward+contact)"), "{late}");
    let list: serde_json::Value =
        serde_json::from_str(&fu_ok(db, AN_HOUR_ON, &["list", "--overdue", "--json"])).unwrap();
    assert_eq!(list, serde_json::json!([]), "not late an hour on");

    // contacted, without a change of status, once
    assert!(fu_ok(db, AN_HOUR_ON, &["contact", id]).contains("customer contacted"));
    let c = show(db, id);
    assert_eq!(c["status"], "open");
    assert!(c["contacted_at"].is_string(), "{c:#}");
    let e = fu_err(db, AN_HOUR_ON, &["contact", id]);
    assert_eq!(e, "hotline: the customer was already contacted");

    fu_ok(db, AN_HOUR_ON, &["forward", id, "--to", "billing"]);
    let e = fu_err(db, AN_HOUR_ON, &["resolve", id, "--outcome", " "]);
    assert_eq!(e, "hotline: resolving needs a resolution outcome");
    let out = fu_ok(db, AN_HOUR_ON, &["resolve", id, "--outcome", "refund"]);
    let revisit = out
        .split_whitespace()
        .skip_while(|w| *w != "revisit")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();

    // no close without the revisit's result
    let e = fu_err(db, AN_HOUR_ON, &["close", id]);
    assert!(
        e.lines().count() == 1 && e.contains("revisit") && e.contains("force"),
        "{e}"
    );
    // the verdict is given on the revisit, and the complaint says which that is
    let e = fu_err(db, AN_HOUR_ON, &["revisit", id, "--satisfied"]);
    assert!(e.contains(&format!("its revisit is {revisit}")), "{e}");
    let e = fu_err(db, AN_HOUR_ON, &["revisit", &revisit]);
    assert!(e.contains("--satisfied"), "one of the two is needed: {e}");

    // not satisfied: reopened to its department, urgency raised by escalate_by
    let out = fu_ok(
        db,
        AN_HOUR_ON,
        &[
            "revisit",
            &revisit,
            "--unsatisfied",
            "--note",
            "still charged",
        ],
    );
    assert!(out.contains("reopened"), "{out}");
    let c = show(db, id);
    assert_eq!(c["status"], "forwarded");
    assert_eq!(c["urgency"], 4);
    assert!(c["resolved_at"].is_null(), "{c:#}");
    assert_eq!(c["revisit_result"], "unsatisfied");
    assert_eq!(
        notes(&c).last().map(String::as_str),
        Some("reopened: customer not satisfied")
    );
    let r = show(db, &revisit);
    assert_eq!(
        (&r["status"], &r["revisit_result"]),
        (&"answered".into(), &"unsatisfied".into())
    );
    let e = fu_err(db, AN_HOUR_ON, &["revisit", &revisit, "--satisfied"]);
    assert!(e.contains("already"), "{e}");
    assert!(fu_err(db, AN_HOUR_ON, &["close", id]).contains("revisit"));

    // resolved again, the customer satisfied this time: closed
    let out = fu_ok(db, AN_HOUR_ON, &["resolve", id, "--outcome", "refund"]);
    let again = out
        .split_whitespace()
        .skip_while(|w| *w != "revisit")
        .nth(1)
        .unwrap();
    assert!(fu_err(db, AN_HOUR_ON, &["close", id]).contains("revisit"));
    fu_ok(db, AN_HOUR_ON, &["revisit", again, "--satisfied"]);
    fu_ok(db, AN_HOUR_ON, &["close", id]);
    assert_eq!(show(db, id)["status"], "closed");
}

#[test]
fn a_forced_close_needs_a_reason_and_flagged_callers_are_marked() {
    let dir = TempDir::new("cli-force");
    let db = common::migrated_db(&dir, "f");
    let db = db.as_str();
    let id = new_complaint(db);
    let id = id.as_str();
    let e = fu_err(db, AN_HOUR_ON, &["close", id, "--force"]);
    assert!(e.contains("--reason"), "{e}");
    fu_ok(
        db,
        AN_HOUR_ON,
        &["close", id, "--force", "--reason", "customer withdrew it"],
    );
    let c = show(db, id);
    assert_eq!(c["status"], "closed");
    assert_eq!(
        notes(&c).last().map(String::as_str),
        Some("closed without the revisit's result: customer withdrew it")
    );
    assert!(fu_err(db, AN_HOUR_ON, &["close", "fu-nope"]).contains("no follow-up fu-nope"));

    // a flagged caller's complaint is listed, marked for review
    let other = new_complaint(db);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(db).await.unwrap();
        sqlx::query(
            "INSERT INTO caller_flags (number, flag, created_at, created_by) \
             VALUES ('13800138000', 'malicious', 0, 'supervisor')",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    });
    let table = fu_ok(db, AN_HOUR_ON, &["list"]);
    let row = table
        .lines()
        .find(|l| l.contains(&other))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("⚑ review"), "{table}");
    assert_eq!(show(db, &other)["flagged"], true);
}

#[test]
fn reports_follow_the_dial_plans_language() {
    let dir = TempDir::new("cli-report");
    let db = common::migrated_db(&dir, "r");
    let db = db.as_str();
    new_complaint(db);
    new_complaint(db);
    let report = |args: &[&str]| {
        let out = hotline()
            .args(["report", "monthly", "--month", "2026-11", "--database", db])
            .args(["--dialplans", PLANS, "--now", AN_HOUR_ON])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // the shipped plan speaks zh-CN
    let md = report(&[]);
    assert!(md.starts_with("# 月度报表 2026-11"), "{md}");
    assert!(
        md.contains("## 投诉汇总") && md.contains("| 接通率 |"),
        "{md}"
    );
    assert!(
        md.contains("| 138****8000 | 2 |") && !md.contains("13800138000"),
        "{md}"
    );
    let md = report(&["--lang", "en"]);
    assert!(md.starts_with("# Monthly report 2026-11"), "{md}");
    assert!(
        md.contains("| answer rate |") && !md.contains("接通率"),
        "{md}"
    );
    assert!(report(&["--show-numbers"]).contains("| 13800138000 | 2 |"));
    let html = report(&["--format", "html"]);
    assert!(html.contains("<html lang=\"zh-CN\">") && html.contains("PingFang SC"));
    // CSV: a byte-order mark, then plain numbers
    let file = dir.0.join("r.csv");
    report(&["--format", "csv", "--out", file.to_str().unwrap()]);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.contains("关键指标,关键数据,呼入量,0\n"), "{text}");
    assert!(
        text.contains("接通率 (%),\n"),
        "no calls: no rate, and no n/a: {text}"
    );
    let out = hotline()
        .args(["report", "monthly", "--month", "2026-11", "--lang", "fr"])
        .args(["--database", db, "--dialplans", PLANS])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("zh-CN"));
}

#[test]
fn realm_before_the_subcommand_makes_the_agents_ha1() {
    let dir = TempDir::new("cli-realm");
    let db = common::migrated_db(&dir, "realm");
    ok_in(
        &dir.0,
        &[
            "--realm",
            "calls.example.com",
            "agents",
            "add",
            "--id",
            "1024",
            "--name",
            "Li Lei",
            "--password",
            "pass-word-1",
            "--database",
            &db,
        ],
    );
    let agent = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = hotline::store::Store::connect(&db).await.unwrap();
        let agent = store.agent("1024").await.unwrap().expect("added");
        store.close().await;
        agent
    });
    assert_eq!(agent.realm, "calls.example.com");
}

#[test]
fn global_database_is_flag_then_environment_then_file() {
    let dir = TempDir::new("cli-global-precedence");
    let url = |name: &str| format!("sqlite://{}/{name}.db", dir.0.display());
    common::migrate(&url("file"));
    common::migrate(&url("env"));
    let file = dir.0.join("hotline.toml");
    std::fs::write(&file, format!("database = \"{}\"\n", url("file"))).unwrap();
    let config = file.to_str().unwrap();
    // The agent goes into the file's database.
    ok_in(
        &dir.0,
        &[
            "--config",
            config,
            "agents",
            "add",
            "--id",
            "1024",
            "--name",
            "Li Lei",
            "--password",
            "pass-word-1",
        ],
    );
    let list = |env: Option<&str>, args: &[&str]| {
        let mut c = hotline();
        c.current_dir(&dir.0)
            .args(["agents", "list", "--json", "--config", config])
            .args(args);
        if let Some(e) = env {
            c.env("HOTLINE_DATABASE", e);
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).contains("\"id\":\"1024\"")
    };
    assert!(list(None, &[]), "file over default");
    assert!(!list(Some(&url("env")), &[]), "environment over file");
    assert!(
        list(Some(&url("env")), &["--database", &url("file")]),
        "flag over environment"
    );
}

/// A cluster node (`--node-id`) needs the edge, a PostgreSQL database the nodes share, and
/// an address of its own for the edge to reach it; `check` names what is missing.
#[test]
fn check_refuses_a_cluster_node_without_edge_postgres_or_an_address_of_its_own() {
    let refused = |args: &[&str]| {
        let out = hotline()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("check")
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!out.status.success(), "{args:?} passed: {text}");
        assert_eq!(text.lines().count(), 1, "{text}");
        text
    };
    let pg = "postgres://hotline@127.0.0.1:1/hotline";
    let own = ["--sip-listen", "10.0.0.1:5060"];
    let text = refused(&[&["--node-id", "a", "--database", pg][..], &own].concat());
    assert!(
        text.starts_with("node_id (flag --node-id)") && text.contains("(edge)"),
        "{text}"
    );
    let text = refused(&[&["--edge", "10.0.0.9:5060", "--database", pg][..], &own].concat());
    assert!(
        text.starts_with("edge (flag --edge)") && text.contains("node_id"),
        "{text}"
    );
    let node = ["--node-id", "a", "--edge", "10.0.0.9:5060"];
    for db in [None, Some("sqlite://cluster.db")] {
        let database = db.map(|d| vec!["--database", d]).unwrap_or_default();
        let text = refused(&[&node[..], &own, &database].concat());
        assert!(
            text.starts_with("node_id") && text.contains("needs a PostgreSQL database"),
            "{text}"
        );
    }
    let text = refused(
        &[
            &node[..],
            &["--database", pg, "--sip-listen", "0.0.0.0:5060"],
        ]
        .concat(),
    );
    assert!(
        text.starts_with("sip_listen (flag --sip-listen)") && text.contains("advertise_ip"),
        "{text}"
    );
    // The default listening address is every interface too.
    let text = refused(&[&node[..], &["--database", pg]].concat());
    assert!(text.starts_with("sip_listen (default)"), "{text}");

    // Accepted: listening on one address, or on all with the address to advertise.
    let cluster = |sip_listen: &str, advertise: Option<&str>| {
        Overrides {
            node_id: Some("a".into()),
            edge: Some("10.0.0.9:5060".into()),
            database: Some(pg.into()),
            sip_listen: Some(sip_listen.into()),
            advertise_ip: advertise.map(str::to_string),
            ..Default::default()
        }
        .load()
        .map(|c| c.cluster)
    };
    let expected = hotline::config::Cluster {
        node_id: "a".into(),
        edge: "10.0.0.9:5060".parse().unwrap(),
    };
    assert_eq!(
        cluster("10.0.0.1:5060", None).unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        cluster("0.0.0.0:5060", Some("10.0.0.1")).unwrap(),
        Some(expected)
    );
    for every in ["[::]:5060", "[0::0]:5060", " 0.0.0.0:5060"] {
        assert!(cluster(every, None).is_err(), "{every:?}");
    }
}
