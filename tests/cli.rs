//! The command line contract: check, migrate, --version, and settings precedence
//! (flag > environment > file > default).

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
    let url = format!("sqlite://{}/c.db", dir.0.display());
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
    let db = format!("sqlite://{}/agents.db", dir.0.display());
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
    // Run in an empty folder: a flag that was ignored would open ./hotline.db instead,
    // which holds nothing.
    let dir = TempDir::new("cli-global");
    let db = format!("sqlite://{}/global.db", dir.0.display());
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
            list.contains(id) && list.contains("13700137000"),
            "{args:?}: {list}"
        );
    }
}

#[test]
fn realm_before_the_subcommand_makes_the_agents_ha1() {
    let dir = TempDir::new("cli-realm");
    let db = format!("sqlite://{}/realm.db", dir.0.display());
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
fn errors_are_said_once() {
    let dir = TempDir::new("cli-error");
    let db = format!("sqlite://{}/no/such/folder/x.db", dir.0.display());
    let out = hotline()
        .current_dir(&dir.0)
        .args(["agents", "list", "--database", &db])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .find(|l| l.starts_with("hotline: "))
        .unwrap_or_else(|| panic!("{text}"));
    // The database error wraps sqlx's, whose text must not follow it a second time.
    let (_, cause) = line
        .split_once("database error: ")
        .unwrap_or_else(|| panic!("{line}"));
    assert_eq!(line.matches(cause).count(), 1, "{line}");
}

#[test]
fn global_database_is_flag_then_environment_then_file() {
    let dir = TempDir::new("cli-global-precedence");
    let url = |name: &str| format!("sqlite://{}/{name}.db", dir.0.display());
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
    // A bad URL is named without being echoed (it may hold a password).
    let out = hotline()
        .current_dir(&dir.0)
        .args([
            "agents",
            "list",
            "--database",
            "postgress://u:hunter22@db/x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("database") && !text.contains("hunter22"),
        "{text}"
    );
}
