//! `hotline calls list|show|export`: the built binary on a temporary SQLite database, with
//! the shipped dial plans (Asia/Shanghai). Filters narrow the list; one call shows its
//! timeline, legs and survey; an export is CSV a spreadsheet reads (byte-order mark, quoted
//! cells) or one JSON array, over every page; numbers are masked unless `--show-numbers`.

mod common;

use common::TempDir;
use hotline::store::{AgentWrite, CallIvr, Store, Write};
use std::process::{Command, Output};

/// 2026-11-30T08:53:20+08:00.
const T0: i64 = 1_796_000_000_000;

fn hotline() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hotline"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HOTLINE_") {
            c.env_remove(k);
        }
    }
    c
}

fn db_url(dir: &TempDir) -> String {
    format!("sqlite://{}/calls.db", dir.0.display())
}

/// Runs `hotline calls ARGS` on the database in `dir`.
fn calls(dir: &TempDir, args: &[&str]) -> Output {
    hotline()
        .args(["calls", "--database", &db_url(dir)])
        .args([
            "--dialplans",
            concat!(env!("CARGO_MANIFEST_DIR"), "/dialplans"),
        ])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn arrived(id: &str, caller: &str, at_ms: i64) -> Write {
    Write::CallArrived {
        id: id.into(),
        sip_call_id: format!("sip-{id}"),
        caller: caller.into(),
        called: "95555".into(),
        source: "192.0.2.10:5060".into(),
        transport: "udp",
        at_ms,
    }
}

/// `a-1` (queue cards, agent 1024, a survey and a timeline, disposition with a comma and a
/// quote), `b-2` (queue loans), and `extra` more calls the day before.
fn fixture(dir: &TempDir, extra: usize) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::connect(&db_url(dir)).await.unwrap();
        let mut w = vec![
            arrived("a-1", "13800138000", T0),
            Write::CallIvr {
                id: "a-1".into(),
                ivr: CallIvr {
                    language: Some("zh-CN".into()),
                    customer: Some("6225880012345678".into()),
                    verified: Some(true),
                    outcome: Some("balance".into()),
                    queue: Some("cards".into()),
                    priority: None,
                },
            },
            Write::CallEvent {
                id: "a-1".into(),
                seq: 1,
                at_ms: T0 + 2000,
                kind: "dtmf",
                detail: "2".into(),
            },
            Write::Agent(AgentWrite::LegStarted {
                call: "a-1".into(),
                seq: 1,
                agent: "1024".into(),
                queue: Some("cards".into()),
                at_ms: T0 + 5000,
            }),
            Write::Agent(AgentWrite::LegAnswered {
                call: "a-1".into(),
                seq: 1,
                agent: "1024".into(),
                at_ms: T0 + 8000,
            }),
            Write::Agent(AgentWrite::Disposition {
                call: "a-1".into(),
                code: "refund, \"partial\"".into(),
            }),
            Write::Survey {
                id: "a-1".into(),
                question: 1,
                score: 4,
                agent: Some("1024".into()),
                at_ms: T0 + 70_000,
            },
            Write::CallEnded {
                id: "a-1".into(),
                at_ms: T0 + 68_000,
                by: "caller",
                cause: "caller_bye",
                status: None,
            },
            arrived("b-2", "13900139000", T0 + 60_000),
            Write::CallIvr {
                id: "b-2".into(),
                ivr: CallIvr {
                    queue: Some("loans".into()),
                    ..CallIvr::default()
                },
            },
        ];
        for i in 0..extra {
            let at = T0 - 86_400_000 + i as i64 * 1000;
            w.push(arrived(&format!("x-{i:04}"), "13700137000", at));
        }
        store.apply(&w).await.unwrap();
        store.close().await;
    });
}

#[test]
fn the_list_filters_and_masks_numbers_unless_asked() {
    let dir = TempDir::new("cli-calls-list");
    fixture(&dir, 3);
    let text = stdout(&calls(&dir, &["list"]));
    let head = text.lines().next().unwrap();
    assert!(head.contains("DIR") && head.contains("OUTCOME"), "{text}");
    assert_eq!(text.lines().count(), 1 + 5, "{text}");
    assert!(
        text.contains("138****8000") && !text.contains("13800138000"),
        "{text}"
    );

    let text = stdout(&calls(&dir, &["list", "--queue", "cards"]));
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert!(
        rows[0].starts_with("a-1") && rows[0].contains("1024"),
        "{text}"
    );

    let text = stdout(&calls(&dir, &["list", "--number", "139-0013-9000"]));
    assert!(text.contains("b-2") && !text.contains("a-1"), "{text}");
    let text = stdout(&calls(
        &dir,
        &["list", "--agent", "1024", "--from", "2026-11-30"],
    ));
    assert!(text.contains("a-1") && !text.contains("b-2"), "{text}");
    let text = stdout(&calls(&dir, &["list", "--to", "2026-11-29"]));
    assert!(text.contains("x-0002") && !text.contains("a-1"), "{text}");
    let text = stdout(&calls(&dir, &["list", "--outcome", "balance"]));
    assert!(text.contains("a-1") && !text.contains("b-2"), "{text}");
    let text = stdout(&calls(&dir, &["list", "--direction", "out"]));
    assert!(text.contains("(no calls)"), "{text}");

    let v: serde_json::Value =
        serde_json::from_str(&stdout(&calls(&dir, &["list", "--last", "2", "--json"]))).unwrap();
    assert_eq!(v["calls"].as_array().unwrap().len(), 2);
    assert_eq!(v["calls"][0]["id"], "b-2");
    assert_eq!(v["calls"][1]["caller"], "138****8000");
    assert_eq!(v["calls"][1]["customer"], "622****5678");
    assert!(v["next"].is_string(), "more calls follow: {v}");

    let shown = calls(
        &dir,
        &["--show-numbers", "list", "--queue", "cards", "--json"],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&shown)).unwrap();
    assert_eq!(v["calls"][0]["caller"], "13800138000");
    assert_eq!(v["next"], serde_json::Value::Null);

    let bad = calls(&dir, &["list", "--from", "yesterday"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("--from yesterday") && err.contains("YYYY-MM-DD"),
        "{err}"
    );
}

#[test]
fn one_call_shows_its_timeline_legs_and_survey() {
    let dir = TempDir::new("cli-calls-show");
    fixture(&dir, 0);
    let text = stdout(&calls(&dir, &["show", "a-1"]));
    for words in [
        "a-1 (inbound)",
        "138****8000",
        "2026-11-30T08:53:20+08:00",
        "timeline:",
        "08:53:22  dtmf  2",
        "agent 1024",
        "question 1: 4 (agent 1024)",
        "caller_bye",
    ] {
        assert!(text.contains(words), "{words:?} in\n{text}");
    }
    assert!(!text.contains("13800138000"), "{text}");

    let v: serde_json::Value =
        serde_json::from_str(&stdout(&calls(&dir, &["show", "a-1", "--json"]))).unwrap();
    assert_eq!(v["id"], "a-1");
    assert_eq!(v["caller"], "138****8000");
    assert_eq!(v["events"][0]["kind"], "dtmf");
    assert_eq!(v["legs"][0]["agent"], "1024");
    assert_eq!(v["survey"][0]["score"], 4);
    assert_eq!(v["duration_ms"], 68_000);
    assert_eq!(v["talk_ms"], 60_000);

    let missing = calls(&dir, &["show", "nope"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no call nope"));
}

/// Splits one CSV line into cells (quoted cells may hold commas and doubled quotes).
fn csv_line(line: &str) -> Vec<String> {
    let (mut cells, mut cell, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(std::mem::take(&mut cell)),
            (c, _) => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

#[test]
fn an_export_is_csv_with_a_bom_or_json_over_every_page() {
    let dir = TempDir::new("cli-calls-export");
    // More than one page (1000) of calls on the 29th.
    fixture(&dir, 1005);
    let file = dir.0.join("calls.csv");
    let out = calls(
        &dir,
        &[
            "export",
            "--from",
            "2026-11-29",
            "--to",
            "2026-11-30",
            "--output",
            file.to_str().unwrap(),
        ],
    );
    stdout(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("1007 calls written"));
    assert!(!dir.0.join("calls.csv.partial").exists());
    let text = std::fs::read_to_string(&file).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    let mut lines = text.lines();
    let head = csv_line(lines.next().unwrap());
    assert_eq!(head[..3], ["id", "direction", "arrived_at"]);
    let rows: Vec<Vec<String>> = lines.map(csv_line).collect();
    assert_eq!(rows.len(), 1007);
    assert!(rows.iter().all(|r| r.len() == head.len()));
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let a1 = rows.iter().find(|r| r[0] == "a-1").unwrap();
    assert_eq!(a1[col("disposition")], "refund, \"partial\"");
    assert_eq!(a1[col("caller")], "138****8000");
    assert_eq!(a1[col("arrived_at")], "2026-11-30T08:53:20+08:00");
    assert_eq!(a1[col("duration_secs")], "68");
    let mut ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 1007, "each call once");

    let out = calls(
        &dir,
        &[
            "--show-numbers",
            "export",
            "--from",
            "2026-11-30T00:00:00+08:00",
            "--to",
            "2026-12-01",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 2, "{v}");
    assert_eq!(list[1]["caller"], "13800138000");
    assert_eq!(list[1]["arrived_at"], "2026-11-30T00:53:20.000Z");

    let out = calls(
        &dir,
        &[
            "export",
            "--from",
            "2026-11-30",
            "--to",
            "2026-11-30",
            "--format",
            "json",
            "--queue",
            "loans",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["caller"], "139****9000");

    let out = calls(&dir, &["export", "--from", "2026-11-30"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from and --to"));
}
