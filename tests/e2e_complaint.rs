//! End-to-end complaint: a SIPp caller presses 3 (complaint) in the shipped dial plan; the
//! complaint is recorded with its three due times; `hotline followups list` shows them;
//! moving the clock on (`--now`) makes it overdue and escalated; resolving it creates the
//! revisit.

mod common;

use common::{free_port, free_ports, tool, Server, TempDir};
use std::process::Command;

/// Runs `hotline followups ARGS` against the server's database and plans.
fn followups(server: &Server, plans: &str, now: Option<&str>, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HOTLINE_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("followups").args(args).args([
        "--database",
        &server.db_url,
        "--dialplans",
        plans,
        "--by",
        "1024",
        "--show-numbers",
    ]);
    if let Some(now) = now {
        cmd.env("HOTLINE_NOW", now);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "followups {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn ms(v: &serde_json::Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().expect("a time"))
        .unwrap()
        .timestamp_millis()
}

#[test]
fn sipp_complaint_is_listed_goes_overdue_escalates_and_gets_a_revisit() {
    let Some(sipp) = tool("sipp") else {
        return;
    };
    let plans_dir = common::always_open_plan();
    let plans = plans_dir.0.display().to_string();
    let prompts = concat!(env!("CARGO_MANIFEST_DIR"), "/prompts");
    // Run from its own folder: the complaint's recorded description lands there.
    let mut server = Server::start_with_env(
        &[
            "--ring-delay-ms",
            "0",
            "--dialplans",
            &plans,
            "--prompts",
            prompts,
        ],
        "info,sqlx=warn",
        &[],
    );
    let work = TempDir::new("sipp-complaint");
    std::fs::write(work.0.join("caller-audio.ul"), vec![0xFFu8; 8000 * 40]).unwrap();
    // 1 Chinese, 3 complaint, 1 about the service; after the tone the caller speaks
    // (about 3 s, each empty group is a 2.5 s pause) and ends with #; the caller's own
    // number is taken without asking.
    let scenario = common::sipp_key_scenario(&work.0, "13800138000", 9000, "1 3 1     #", 4000);
    let status = Command::new(sipp)
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
        .args(["-p", &free_port().to_string(), "-mi", "127.0.0.1"])
        .args(["-mp", &free_ports(4).to_string()])
        .args([
            "-m", "1", "-r", "1", "-d", "1000", "-nostdin", "-timeout", "60",
        ])
        .args(["-trace_err"])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "sipp call failed:\n{}", server.log());
    assert!(server.stop().success());
    // the caller's number is never logged
    assert!(
        !server.log().contains("13800138000"),
        "caller number in the log"
    );

    // now: listed with its four due times, not overdue
    let list = json(&followups(&server, &plans, None, &["list", "--json"]));
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 1, "{list:#}\n{}", server.log());
    let c = &items[0];
    assert_eq!(c["kind"], "complaint");
    assert_eq!(c["category"], "service_attitude");
    assert_eq!(c["status"], "open");
    assert_eq!(c["number"], "13800138000");
    assert_eq!(c["escalated"], false);
    let created = ms(&c["created_at"]);
    let (fwd, contact, ans, res) = (
        ms(&c["due_forward"]),
        ms(&c["due_contact"]),
        ms(&c["due_answer"]),
        ms(&c["due_resolve"]),
    );
    assert_eq!(fwd - created, 12 * 3_600_000, "forward within 12 hours");
    assert_eq!(
        contact - created,
        12 * 3_600_000,
        "contacted within 12 hours"
    );
    assert!(fwd < res && ans < res, "{c:#}");
    assert!(ans > created, "{c:#}");
    let id = c["id"].as_str().unwrap().to_string();
    let urgency = c["urgency"].as_i64().unwrap();
    let calls = server.calls();
    assert_eq!(c["call_id"].as_str(), Some(calls[0].id.as_str()));
    // the table shows the same four due times
    let table = followups(&server, &plans, None, &["list"]);
    assert!(
        table.contains(&id) && table.contains("FORWARD BY"),
        "{table}"
    );
    // Dates (YYYY-MM-DD) in the row, whatever the hour (" 20:00" is no date).
    let dates = table
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .filter(|w| {
            let b = w.as_bytes();
            b.len() == 10 && b[4] == b'-' && b[7] == b'-' && w.starts_with("20")
        })
        .count();
    assert_eq!(dates, 4, "four due times:\n{table}");

    // 40 days on: past every deadline, escalated by the server's minute sweep (listing
    // changes nothing); here the sweep runs as of then.
    let later_ms = created + 40 * 86_400_000;
    let escalated = server.read(async |store| {
        hotline::followup::escalate_overdue(store, &Default::default(), later_ms).await
    });
    assert_eq!(escalated.unwrap(), 1);
    let later = chrono::DateTime::from_timestamp_millis(later_ms)
        .unwrap()
        .to_rfc3339();
    let list = json(&followups(
        &server,
        &plans,
        Some(&later),
        &["list", "--overdue", "--kind", "complaint", "--json"],
    ));
    let c = &list.as_array().unwrap()[0];
    assert_eq!(c["id"], id.as_str());
    assert_eq!(
        c["overdue"],
        serde_json::json!(["forward", "contact", "answer", "resolve"])
    );
    assert_eq!(c["escalated"], true);
    assert_eq!(
        c["urgency"].as_i64().unwrap(),
        urgency + 4,
        "one per missed deadline"
    );
    let table = followups(&server, &plans, Some(&later), &["list", "--overdue"]);
    assert!(
        table.contains("OVERDUE(forward+contact+answer+resolve)") && table.contains("ESCALATED"),
        "{table}"
    );

    // worked to closure
    followups(
        &server,
        &plans,
        Some(&later),
        &["forward", &id, "--to", "billing"],
    );
    followups(
        &server,
        &plans,
        Some(&later),
        &["note", &id, "refund agreed"],
    );
    followups(&server, &plans, Some(&later), &["answer", &id]);
    let out = followups(
        &server,
        &plans,
        Some(&later),
        &["resolve", &id, "--outcome", "refund"],
    );
    assert!(out.contains("revisit "), "{out}");
    let show = json(&followups(
        &server,
        &plans,
        Some(&later),
        &["show", &id, "--json"],
    ));
    assert_eq!(show["status"], "resolved");
    assert_eq!(show["department"], "billing");
    assert_eq!(show["outcome"], "refund");
    let notes: Vec<&str> = show["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes,
        vec![
            "escalated to the supervisor: 4 deadlines missed",
            "forwarded to billing",
            "refund agreed",
            "customer answered",
            "resolved: refund"
        ]
    );
    let revisits = json(&followups(
        &server,
        &plans,
        Some(&later),
        &["list", "--kind", "revisit", "--json"],
    ));
    let r = &revisits.as_array().unwrap()[0];
    assert_eq!(r["parent_id"], id.as_str());
    assert_eq!(r["status"], "open");
    assert_eq!(r["number"], "13800138000");
    assert!(ms(&r["due_answer"]) > ms(&r["created_at"]), "{r:#}");
    // a resolved complaint cannot be resolved again
    let again = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["followups", "resolve", &id, "--outcome", "x"])
        .args(["--database", &server.db_url, "--dialplans", &plans])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr)
        .contains("cannot resolve a follow-up that is resolved"));
}
