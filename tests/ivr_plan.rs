//! Dial plan loading: the shipped plan passes, broken plans fail with every error at
//! its line and column, number selection, and the business calendar.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use hotline::core::media::prompt::PromptSet;
use hotline::ivr::plan::{NodeKind, NumberPattern};
use hotline::ivr::{load_dir, load_file, select, Language, Plan, PlanError};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped prompts, read once for all tests.
fn prompts() -> &'static PromptSet {
    static SET: OnceLock<PromptSet> = OnceLock::new();
    SET.get_or_init(|| {
        hotline::prompts::load(&root().join("prompts")).expect("shipped prompts load")
    })
}

/// A fresh, empty temp folder for one test.
fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "hotline-ivr-plan-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The errors of `text` written to a file, loaded with or without the shipped prompts.
fn errors_with(text: &str, with_prompts: bool) -> (PathBuf, Vec<PlanError>) {
    let file = temp_dir("broken").join("broken.toml");
    std::fs::write(&file, text).unwrap();
    let result = load_file(&file, with_prompts.then_some(prompts()));
    match result {
        Ok(_) => panic!("plan should not load:\n{text}"),
        Err(e) => (file, e),
    }
}

fn errors(text: &str) -> Vec<PlanError> {
    errors_with(text, false).1
}

/// The `(line, message)` pairs, for compact asserts.
fn lines(errors: &[PlanError]) -> Vec<(usize, String)> {
    errors.iter().map(|e| (e.line, e.message.clone())).collect()
}

/// A small valid plan; tests replace or append to it. Line numbers matter below.
const BASE: &str = r#"name = "test"
numbers = ["100"]
language = "en"
time_zone = "Asia/Shanghai"
start = "hello"

[calendar.hours]
mon = "09:00-18:00"

[[outcomes]]
code = "done"
label = "Done"

[nodes.hello]
kind = "play"
prompts = ["goodbye"]
next = "bye"

[nodes.bye]
kind = "hangup"
"#;

#[test]
fn base_plan_is_valid() {
    let file = temp_dir("base").join("base.toml");
    std::fs::write(&file, BASE).unwrap();
    let plan = load_file(&file, Some(prompts())).unwrap();
    assert_eq!(plan.name, "test");
    assert_eq!(plan.language, Language::En);
    assert_eq!(plan.start, "hello");
    assert_eq!(plan.nodes.len(), 2);
}

#[test]
fn shipped_plan_passes_validation() {
    let plan =
        load_file(&root().join("dialplans/hotline.toml"), Some(prompts())).unwrap_or_else(|e| {
            panic!(
                "{}",
                e.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
    assert_eq!(plan.language, Language::ZhCn);
    assert_eq!(plan.calendar.time_zone(), chrono_tz::Asia::Shanghai);
    assert!(plan.numbers.contains(&NumberPattern::Exact("95555".into())));
    let menu = match &plan.node("main_menu").unwrap().kind {
        NodeKind::Menu(m) => m,
        other => panic!("main_menu is {}", other.name()),
    };
    let keys: String = menu.options.keys().collect();
    assert_eq!(keys, "012349");
    for code in [
        "billing_enquiry",
        "complaint",
        "callback_requested",
        "voicemail",
    ] {
        assert!(plan.outcome(code).is_some(), "{code}");
    }
    // the whole folder loads too, with nothing else in it
    let (plans, errs) = load_dir(&root().join("dialplans"), Some(prompts()));
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(plans.len(), 1);
}

#[test]
fn unknown_node_reference() {
    let text = BASE.replace("next = \"bye\"", "next = \"nowhere\"");
    let e = errors(&text);
    // the node `bye` is then unreachable too, but graph checks wait for references
    assert_eq!(lines(&e), [(17, "unknown node \"nowhere\"".to_string())]);
    assert_eq!(e[0].column, 8);
}

#[test]
fn unreachable_node() {
    let text = format!("{BASE}\n[nodes.orphan]\nkind = \"hangup\"\n");
    assert_eq!(
        lines(&errors(&text)),
        [(
            22,
            "node \"orphan\" is unreachable from start \"hello\"".to_string()
        )]
    );
}

#[test]
fn missing_prompt_per_language() {
    let text = BASE.replace(
        "prompts = [\"goodbye\"]",
        "prompts = [\"goodbye\", \"greeting_mornin\"]",
    );
    // without a prompt set nothing is missing
    let file = temp_dir("noprompts").join("p.toml");
    std::fs::write(&file, &text).unwrap();
    assert!(load_file(&file, None).is_ok());
    let (_, e) = errors_with(&text, true);
    assert_eq!(
        lines(&e),
        [(
            16,
            "prompt \"greeting_mornin\" is missing in en".to_string()
        )]
    );
    assert_eq!(e[0].column, 23);
    // a language the plan switches to is checked as well
    let text = text.replace("next = \"bye\"", "next = \"zh\"").replace(
        "[nodes.bye]",
        "[nodes.zh]\nkind = \"set\"\nlanguage = \"zh-CN\"\nnext = \"bye\"\n\n[nodes.bye]",
    );
    let (_, e) = errors_with(&text, true);
    assert_eq!(
        lines(&e),
        [(
            16,
            "prompt \"greeting_mornin\" is missing in en, zh-CN".to_string()
        )]
    );
}

#[test]
fn bad_times_and_dates() {
    let text = BASE
        .replace("mon = \"09:00-18:00\"", "mon = \"09:00-25:00\"\ntue = \"18:00-09:00\"")
        .replace("[calendar.hours]", "[calendar]\nholidays = [\"2026-02-30\", \"2026-10-07..2026-10-01\"]\n\n[calendar.hours]");
    let e = errors(&text);
    assert_eq!(
        lines(&e),
        [
            (
                8,
                "bad date \"2026-02-30\": need YYYY-MM-DD, a real day".to_string()
            ),
            (
                8,
                "date range \"2026-10-07..2026-10-01\" ends before it starts".to_string()
            ),
            (
                11,
                "bad time \"25:00\": need HH:MM, 00:00 to 23:59".to_string()
            ),
            (
                12,
                "opening hours \"18:00-09:00\" run past midnight: split them over two days"
                    .to_string()
            ),
        ]
    );
    // in a branch condition
    let text = BASE.replace("start = \"hello\"", "start = \"when\"")
        + "\n[nodes.when]\nkind = \"branch\"\ndefault = \"hello\"\n\n[[nodes.when.cases]]\ntime = \"25:00-26:00\"\ngoto = \"bye\"\n";
    assert_eq!(
        lines(&errors(&text)),
        [(
            27,
            "bad time \"25:00\": need HH:MM, 00:00 to 23:59".to_string()
        )]
    );
}

#[test]
fn unknown_outcome_code() {
    let text = BASE.replace(
        "[nodes.bye]\nkind = \"hangup\"",
        "[nodes.bye]\nkind = \"hangup\"\noutcome = \"finished\"",
    );
    let e = errors(&text);
    assert_eq!(
        lines(&e),
        [(
            21,
            "unknown outcome code \"finished\" (declare it under [[outcomes]])".to_string()
        )]
    );
    assert_eq!(e[0].column, 11);
}

#[test]
fn loop_without_input() {
    let text = BASE.replace("next = \"bye\"", "next = \"again\"")
        + "\n[nodes.again]\nkind = \"set\"\nvariables = { seen = \"yes\" }\nnext = \"hello\"\n";
    let e = errors(&text);
    assert_eq!(e.len(), 2, "{e:?}"); // the loop, and `bye` is now unreachable
    assert_eq!(
        (e[0].line, e[0].message.as_str()),
        (14, "loop with no input: \"hello\" -> \"again\" and back to \"hello\"; none of these nodes waits for the caller's keys")
    );
    assert_eq!(
        (e[1].line, e[1].message.as_str()),
        (19, "node \"bye\" is unreachable from start \"hello\"")
    );

    // the same loop through a menu is fine: the caller is asked each time round
    let text = BASE.replace("next = \"bye\"", "next = \"ask\"")
        + "\n[nodes.ask]\nkind = \"menu\"\nprompts = [\"main_menu\"]\noptions = { \"1\" = \"hello\", \"2\" = \"bye\" }\nfallback = \"hello\"\n";
    let file = temp_dir("menu-loop").join("ok.toml");
    std::fs::write(&file, text).unwrap();
    assert!(load_file(&file, None).is_ok());
}

#[test]
fn toml_syntax_error() {
    let text = BASE.replace("kind = \"hangup\"", "kind = \"hangup");
    let e = errors(&text);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line, 20, "{e:?}");
    assert!(
        e[0].message.contains("invalid basic string"),
        "{}",
        e[0].message
    );
}

#[test]
fn unknown_and_misplaced_keys() {
    let text = BASE.replace("next = \"bye\"", "next = \"bye\"\nretires = 3");
    let e = errors(&text);
    assert_eq!(e[0].line, 18);
    assert!(
        e[0].message.starts_with("unknown field `retires`"),
        "{}",
        e[0].message
    );

    let text = BASE.replace("next = \"bye\"", "next = \"bye\"\nretries = 3");
    assert_eq!(
        lines(&errors(&text)),
        [(18, "`retries` does not apply to a play node".to_string())]
    );

    let text = BASE.replace("kind = \"hangup\"", "kind = \"hangpu\"");
    let e = errors(&text);
    assert_eq!(e[0].line, 20);
    assert!(
        e[0].message.starts_with("unknown node kind \"hangpu\""),
        "{}",
        e[0].message
    );
}

#[test]
fn transfer_only_to_allowed_targets() {
    let text = BASE.replace(
        "[nodes.bye]\nkind = \"hangup\"",
        "[nodes.bye]\nkind = \"transfer\"\ntarget = \"8001\"",
    );
    assert_eq!(
        lines(&errors(&text)),
        [(
            21,
            "transfer target \"8001\" is not listed in `transfer_targets`".to_string()
        )]
    );
    let allowed = text.replace(
        "start = \"hello\"",
        "start = \"hello\"\ntransfer_targets = [\"8001\"]",
    );
    let file = temp_dir("transfer").join("t.toml");
    std::fs::write(&file, allowed).unwrap();
    assert!(load_file(&file, None).is_ok());
}

#[test]
fn secrets_and_variables() {
    let text = BASE.replace("next = \"bye\"", "next = \"pin\"")
        + r#"
[nodes.pin]
kind = "collect"
prompts = ["enter_pin"]
variable = "pin"
next = "check"
fallback = "bye"

[nodes.check]
kind = "verify"
account = "account"
secret = "pin"
ok = "bye"
failed = "bye"
locked = "bye"
exhausted = "bye"
"#;
    assert_eq!(
        lines(&errors(&text)),
        [
            (
                31,
                "variable \"account\" is never collected or set".to_string()
            ),
            (
                32,
                "variable \"pin\" holds a secret: its collect node needs `sensitive = true`"
                    .to_string()
            ),
        ]
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let text = BASE
        .replace("language = \"en\"", "language = \"fr\"")
        .replace(
            "time_zone = \"Asia/Shanghai\"",
            "time_zone = \"Mars/Olympus\"",
        )
        .replace("next = \"bye\"", "next = \"bye\"\noutcome = \"nope\"");
    let (file, e) = errors_with(&text, false);
    assert_eq!(
        lines(&e),
        [
            (
                3,
                "unknown language \"fr\" (expected \"zh-CN\" or \"en\")".to_string()
            ),
            (
                4,
                "unknown time zone \"Mars/Olympus\" (an IANA name such as \"Asia/Shanghai\")"
                    .to_string()
            ),
            (
                18,
                "unknown outcome code \"nope\" (declare it under [[outcomes]])".to_string()
            ),
        ]
    );
    assert_eq!(
        e[0].to_string(),
        format!(
            "{}:3:12: unknown language \"fr\" (expected \"zh-CN\" or \"en\")",
            file.display()
        )
    );
}

fn plan_with_numbers(numbers: &str) -> Arc<Plan> {
    let text = BASE.replace("numbers = [\"100\"]", &format!("numbers = {numbers}"));
    Arc::new(hotline::ivr::plan::load_str(Path::new("mem.toml"), &text, None).unwrap())
}

#[test]
fn most_specific_number_pattern_wins() {
    let any = plan_with_numbers("[\"*\"]");
    let prefix = plan_with_numbers("[\"400*\"]");
    let longer = plan_with_numbers("[\"4008*\"]");
    let exact = plan_with_numbers("[\"4008123\", \"95555\"]");
    let plans = vec![any.clone(), prefix.clone(), longer.clone(), exact.clone()];
    let pick = |called| select(&plans, called).map(Arc::as_ptr);
    assert_eq!(pick("4008123"), Some(Arc::as_ptr(&exact)));
    assert_eq!(pick("95555"), Some(Arc::as_ptr(&exact)));
    assert_eq!(pick("4008999"), Some(Arc::as_ptr(&longer)));
    assert_eq!(pick("4001111"), Some(Arc::as_ptr(&prefix)));
    assert_eq!(pick("12345"), Some(Arc::as_ptr(&any)));
    assert_eq!(select(&plans[1..], "12345").map(Arc::as_ptr), None);
}

#[test]
fn load_dir_keeps_good_plans_and_reports_bad_ones() {
    let dir = temp_dir("dir");
    std::fs::write(dir.join("a.toml"), BASE).unwrap();
    std::fs::write(
        dir.join("b.toml"),
        BASE.replace("[nodes.bye]", "[nodes.bye"),
    )
    .unwrap();
    std::fs::write(dir.join("c.toml"), BASE).unwrap(); // answers "100" again
    std::fs::write(dir.join("notes.txt"), "not a plan").unwrap();
    let (plans, errors) = load_dir(&dir, None);
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].file, dir.join("a.toml"));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(
        (errors[0].file.clone(), errors[0].line),
        (dir.join("b.toml"), 19)
    );
    assert_eq!(errors[1].file, dir.join("c.toml"));
    assert_eq!((errors[1].line, errors[1].column), (2, 12));
    assert!(
        errors[1].message.contains("already answered by"),
        "{}",
        errors[1].message
    );
}

fn shipped() -> Plan {
    load_file(&root().join("dialplans/hotline.toml"), None).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn shanghai(y: i32, m: u32, d: u32, h: u32, min: u32) -> chrono::DateTime<Tz> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
}

#[test]
fn calendar_2026_holidays_and_makeup_days() {
    let cal = shipped().calendar;
    // National Day, a Thursday: a holiday, closed all day
    assert!(cal.is_holiday(date(2026, 10, 1)));
    assert!(!cal.is_working_day(date(2026, 10, 1)));
    assert!(!cal.is_open(shanghai(2026, 10, 1, 10, 0)));
    // Saturday 10 October is worked to make up for it
    assert!(cal.is_makeup_day(date(2026, 10, 10)));
    assert!(cal.is_working_day(date(2026, 10, 10)));
    assert!(cal.is_open(shanghai(2026, 10, 10, 10, 0)));
    assert!(!cal.is_open(shanghai(2026, 10, 10, 18, 0)));
    // an ordinary Saturday and an ordinary Monday
    assert!(!cal.is_working_day(date(2026, 10, 17)));
    assert!(!cal.is_open(shanghai(2026, 10, 17, 10, 0)));
    assert!(cal.is_working_day(date(2026, 11, 23)));
    assert!(cal.is_open(shanghai(2026, 11, 23, 9, 0)));
    assert!(!cal.is_open(shanghai(2026, 11, 23, 8, 59)));
    // the Spring Festival week, Sunday to Monday, with the Saturdays either side worked
    assert!((15..=23).all(|d| cal.is_holiday(date(2026, 2, d))));
    assert!(cal.is_makeup_day(date(2026, 2, 14)) && cal.is_makeup_day(date(2026, 2, 28)));
}

#[test]
fn calendar_working_hours_and_time_zones() {
    let cal = shipped().calendar;
    // Wednesday 30 September 2026, 16:00: two working hours left that day, then the
    // National Day week off, and the other two on Thursday 8 October.
    let from = shanghai(2026, 9, 30, 16, 0);
    assert_eq!(
        cal.add_working_hours(from, 4),
        Some(shanghai(2026, 10, 8, 11, 0))
    );
    assert_eq!(cal.add_working_hours(from, 0), Some(from));
    // after hours, "within 0 hours" is the next opening
    assert_eq!(
        cal.add_working_hours(shanghai(2026, 11, 20, 20, 0), 0),
        Some(shanghai(2026, 11, 23, 9, 0))
    );
    assert_eq!(
        cal.add_working_hours(shanghai(2026, 11, 20, 20, 0), 9),
        Some(shanghai(2026, 11, 23, 18, 0))
    );
    // A time given in another zone is read in the plan's: 02:00 UTC is 10:00 in Shanghai
    let utc = chrono_tz::UTC
        .with_ymd_and_hms(2026, 11, 23, 2, 0, 0)
        .unwrap();
    assert!(cal.is_open(utc));
    let new_york = chrono_tz::America::New_York
        .with_ymd_and_hms(2026, 11, 22, 21, 0, 0)
        .unwrap();
    assert!(
        cal.is_open(new_york),
        "Sunday evening in New York is Monday morning in Shanghai"
    );
    let late = chrono_tz::UTC
        .with_ymd_and_hms(2026, 11, 23, 11, 0, 0)
        .unwrap();
    assert!(!cal.is_open(late));
}

#[test]
fn outcome_keys_are_digits_and_unique() {
    let text = BASE.replace(
        "label = \"Done\"\n",
        "label = \"Done\"\nkey = \"1\"\n\n[[outcomes]]\ncode = \"again\"\nlabel = \"Again\"\nkey = \"1\"\n\n[[outcomes]]\ncode = \"odd\"\nlabel = \"Odd\"\nkey = \"1#\"\n",
    );
    let e = errors(&text);
    assert_eq!(
        lines(&e),
        [
            (18, "outcome key \"1\" is used twice".to_string()),
            (23, "outcome key \"1#\": 1 to 8 digits".to_string()),
        ]
    );
}
