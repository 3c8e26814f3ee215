//! The command line as a new user meets it, one test per surprise it used to hold: a
//! mistyped database is refused (never created), `serve` refuses what `check` reports,
//! `check` tries the database, reports and lists write nothing, passwords are never
//! printed, a refused connection says why, each error is said once with its path, JSON is
//! JSON, tables align with Chinese names, imports show progress only on a terminal, and a
//! config-file mistake names its file, line and layer.

mod common;

use common::TempDir;
use hotline::store::Store;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use unicode_width::UnicodeWidthStr;

const PLANS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/dialplans");
const PROMPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/prompts");

/// The binary, with no settings from the environment and no log lines in the way of
/// what it says to its user.
fn hotline() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hotline"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HOTLINE_") {
            c.env_remove(k);
        }
    }
    c.env("RUST_LOG", "off");
    c
}

fn run(args: &[&str]) -> Output {
    hotline().args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Succeeded; its standard output.
fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// Failed; its standard error.
fn failed(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        !out.status.success(),
        "{args:?} succeeded: {}",
        stdout(&out)
    );
    stderr(&out)
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn add_agent(db: &str, id: &str, name: &str, extension: &str) {
    ok(&[
        "agents",
        "add",
        "--id",
        id,
        "--name",
        name,
        "--extension",
        extension,
        "--password",
        "pass-word-1",
        "--queue",
        "billing:2",
        "--database",
        db,
    ]);
}

#[test]
fn a_missing_database_is_refused_by_name_and_never_created() {
    let dir = TempDir::new("surprise-missing");
    let file = dir.0.join("typo.db");
    let db = format!("sqlite://{}", file.display());
    let csv = dir.0.join("c.csv");
    std::fs::write(&csv, "account,name,pin,id_last_digits,phones,vip\n").unwrap();
    let expected = format!(
        "hotline: no hotline database at {}; create it with hotline migrate",
        file.display()
    );
    let commands: [&[&str]; 7] = [
        &["agents", "list"],
        &[
            "agents",
            "add",
            "--id",
            "1",
            "--name",
            "x",
            "--password",
            "pass-word-1",
        ],
        &["callers", "list", "--dialplans", PLANS],
        &[
            "report",
            "daily",
            "--day",
            "2026-11-23",
            "--dialplans",
            PLANS,
        ],
        &["followups", "list", "--dialplans", PLANS],
        &["calls", "list"],
        &["customers", "import", csv.to_str().unwrap()],
    ];
    for args in commands {
        let err = failed(&[args, &["--database", &db]].concat());
        assert_eq!(err.trim(), expected, "{args:?}");
        assert!(!file.exists(), "{args:?} created {}", file.display());
    }
    // migrate creates it; then the same commands work
    ok(&["migrate", "--database", &db]);
    assert!(file.exists());
    ok(&["agents", "list", "--database", &db]);
}

/// Runs `sql` on the SQLite database at `url`.
fn sql(url: &str, sql: &str) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    });
}

#[test]
fn a_schema_of_another_version_is_refused_with_what_to_do() {
    let dir = TempDir::new("surprise-versions");
    let old = common::migrated_db(&dir, "old");
    sql(
        &old,
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    );
    let err = failed(&["agents", "list", "--database", &old]);
    assert!(
        err.contains("is older than this hotline; run hotline migrate"),
        "{err}"
    );
    let new = common::migrated_db(&dir, "new");
    sql(
        &new,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101000000, 'from the future', 1, x'00', 0)",
    );
    let err = failed(&["report", "daily", "--day", "2026-11-23", "--database", &new]);
    assert!(err.contains("was migrated by a newer hotline"), "{err}");
}

#[test]
fn serve_refuses_a_missing_folder_with_the_words_of_check() {
    let dir = TempDir::new("surprise-serve");
    let missing = dir.0.join("missing");
    let file = dir.0.join("s.db");
    let db = format!("sqlite://{}", file.display());
    let common_args = [
        "--dialplans",
        missing.to_str().unwrap(),
        "--prompts",
        PROMPTS,
    ];
    let check = run(&[&["check", "--database", &db][..], &common_args].concat());
    assert!(!check.status.success());
    let said = format!("dialplans: folder {} does not exist", missing.display());
    assert!(
        stdout(&check).lines().any(|l| l == said),
        "{}",
        stdout(&check)
    );

    let mut serve = hotline()
        .args(["serve", "--sip-listen", "127.0.0.1:0", "--database", &db])
        .args(common_args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while serve.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = serve.kill();
            panic!("serve started without its dial plans folder");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = serve.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert_eq!(stderr(&out).trim(), format!("hotline: {said}"));
    assert!(!file.exists(), "serve refused before creating its database");
}

#[test]
fn check_tries_the_database_and_creates_nothing() {
    let dir = TempDir::new("surprise-check");
    let check = |db: &str| {
        hotline()
            .args(["check", "--dialplans", PLANS, "--prompts", PROMPTS])
            .args(["--database", db])
            .output()
            .unwrap()
    };
    // a folder that does not exist
    let nowhere = dir.0.join("no/such/folder/x.db");
    let out = check(&format!("sqlite://{}", nowhere.display()));
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&nowhere.display().to_string()),
        "{}",
        stdout(&out)
    );
    // a file that is not a database
    let junk = dir.0.join("junk.db");
    std::fs::write(&junk, vec![0x5a; 4096]).unwrap();
    let out = check(&format!("sqlite://{}", junk.display()));
    assert!(!out.status.success());
    assert!(stdout(&out).contains("not a database"), "{}", stdout(&out));
    // a PostgreSQL server that is not there, its password never shown
    let port = closed_port();
    let out = check(&format!(
        "postgres://hotline:pw-never-shown@127.0.0.1:{port}/hotline"
    ));
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("pw-never-shown"), "{text}");
    // a new file in a folder that exists is fine (serve creates it), and check does not
    let fresh = dir.0.join("fresh.db");
    let out = check(&format!("sqlite://{}", fresh.display()));
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(!fresh.exists());
}

#[test]
fn reports_and_lists_run_on_a_read_only_database_and_write_nothing() {
    let dir = TempDir::new("surprise-read-only");
    let file = dir.0.join("r.db");
    let db = common::migrated_db(&dir, "r");
    let args = ["--database", &db, "--dialplans", PLANS, "--by", "ops"];
    let monday = "2026-11-23T10:00:00+08:00";
    let complaint = ["create", "--kind", "complaint", "--number", "13800138000"];
    let id = ok(&[&["followups", "--now", monday][..], &complaint, &args].concat());
    let id = id.trim();
    add_agent(&db, "1024", "李雷", "801");
    ok(&[
        &["callers", "block", "13900139000", "--reason", "abuse"][..],
        &args,
    ]
    .concat());
    let before = std::fs::read(&file).unwrap();

    // Late at night: the complaint is overdue. Read-only: SQLite's mode=ro, and the file
    // itself 0400 (a process running as root is not stopped by that, mode=ro is).
    let mut perms = std::fs::metadata(&file).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o400);
    std::fs::set_permissions(&file, perms).unwrap();
    let ro = format!("{db}?mode=ro");
    let late = "2026-11-23T22:01:00+08:00";
    let report = ok(&[
        "report",
        "daily",
        "--day",
        "2026-11-23",
        "--lang",
        "en",
        "--now",
        late,
        "--database",
        &ro,
        "--dialplans",
        PLANS,
    ]);
    assert!(report.contains("2026-11-23"), "{report}");
    ok(&[
        "report",
        "monthly",
        "--month",
        "2026-11",
        "--now",
        late,
        "--database",
        &ro,
    ]);
    assert!(ok(&["agents", "list", "--database", &ro]).contains("李雷"));
    assert!(ok(&["callers", "list", "--database", &ro, "--dialplans", PLANS]).contains("abuse"));

    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the file is unchanged"
    );
    let row = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = Store::open_read_only(&db).await.unwrap();
        let row = store.followup(id).await.unwrap().expect("the complaint");
        store.close().await;
        row
    });
    assert_eq!(
        (row.escalation, row.escalated_at),
        (0, None),
        "the report escalated nothing (the server's sweep does)"
    );
}

#[test]
fn a_refused_postgres_connection_says_why_at_once_without_the_password() {
    let port = closed_port();
    let url = format!("postgres://hotline:pw-never-shown@127.0.0.1:{port}/hotline");
    for args in [
        vec!["agents", "list", "--database", &url],
        vec!["report", "daily", "--day", "2026-11-23", "--database", &url],
        vec!["migrate", "--database", &url],
    ] {
        let err = failed(&args);
        let line = err.trim();
        assert_eq!(line.lines().count(), 1, "{err}");
        assert!(
            line.starts_with(&format!(
                "hotline: cannot open the database at postgres://hotline@127.0.0.1:{port}/hotline: "
            )),
            "{line}"
        );
        assert!(line.to_lowercase().contains("connection refused"), "{line}");
        assert!(!line.contains("pool timed out"), "{line}");
        assert!(!line.contains("pw-never-shown"), "{line}");
    }
    // nor when the URL is not even one hotline takes
    let err = failed(&[
        "agents",
        "list",
        "--database",
        "postgress://u:hunter22@db/x",
    ]);
    assert!(
        err.contains("database") && !err.contains("hunter22"),
        "{err}"
    );
}

#[test]
fn an_error_is_said_once_and_names_the_path() {
    let dir = TempDir::new("surprise-once");
    let junk = dir.0.join("junk.db");
    std::fs::write(&junk, vec![0x5a; 4096]).unwrap();
    let db = format!("sqlite://{}", junk.display());
    let serve = ["serve", "--sip-listen", "127.0.0.1:0", "--database", &db];
    for args in [
        &["agents", "list", "--database", &db][..],
        &["callers", "list", "--database", &db, "--dialplans", PLANS],
        &[&serve[..], &["--dialplans", PLANS, "--prompts", PROMPTS]].concat(),
    ] {
        let err = failed(args);
        assert_eq!(
            err.trim(),
            format!(
                "hotline: cannot open the database at {}: file is not a database",
                junk.display()
            ),
            "{args:?}"
        );
    }
}

#[test]
fn agents_list_json_is_json() {
    let dir = TempDir::new("surprise-json");
    let db = common::migrated_db(&dir, "j");
    assert_eq!(
        ok(&["agents", "list", "--json", "--database", &db]).trim(),
        "[]"
    );
    let name = "Li \"Lei\" \\ 李雷\t";
    add_agent(&db, "1024", name, "801");
    let text = ok(&["agents", "list", "--json", "--database", &db]);
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v[0]["name"], name);
    assert_eq!(v[0]["extension"], "801");
    assert_eq!(
        v[0]["queues"],
        serde_json::json!([{"queue": "billing", "penalty": 2}])
    );
    assert_eq!(v[0]["state"], "logged_out");
}

/// The display column at which `needle` starts on `line`.
fn column(line: &str, needle: &str) -> usize {
    let at = line
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} in {line}"));
    line[..at].width()
}

#[test]
fn tables_align_chinese_names_by_display_width() {
    let dir = TempDir::new("surprise-table");
    let db = common::migrated_db(&dir, "t");
    add_agent(&db, "1024", "李雷", "801");
    add_agent(&db, "2048", "Han Meimei", "802");
    let text = ok(&["agents", "list", "--database", &db]);
    let lines: Vec<&str> = text.lines().collect();
    let cols = [
        column(lines[0], "EXTENSION"),
        column(lines[1], "801"),
        column(lines[2], "802"),
    ];
    assert!(cols.iter().all(|c| *c == cols[0]), "{cols:?}\n{text}");

    // and the callers' list, whose BY column may be a Chinese name
    let callers = ["callers", "--database", &db, "--dialplans", PLANS];
    ok(&[
        &callers[..],
        &["block", "13900139000", "--reason", "abuse", "--by", "张伟"],
    ]
    .concat());
    ok(&[
        &callers[..],
        &["block", "13700137000", "--reason", "spam", "--by", "ops"],
    ]
    .concat());
    let text = ok(&[&callers[..], &["list"]].concat());
    let rows: Vec<&str> = text.lines().collect();
    let cols = [
        column(rows[0], "SINCE"),
        column(rows[1], "20"),
        column(rows[2], "20"),
    ];
    assert_eq!(rows.len(), 3, "{text}");
    assert!(cols.iter().all(|c| *c == cols[0]), "{cols:?}\n{text}");
}

fn customers_csv(dir: &Path, n: usize) -> std::path::PathBuf {
    let mut csv = String::from("account,name,pin,id_last_digits,phones,vip\n");
    for i in 0..n {
        csv.push_str(&format!(
            "62258800{i:08},客户{i},{},{i:05}X,138{i:08},false\n",
            100_000 + i
        ));
    }
    let path = dir.join("customers.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

#[test]
fn an_import_shows_progress_on_a_terminal_only_and_ends_with_its_count() {
    let dir = TempDir::new("surprise-import");
    let db = common::migrated_db(&dir, "c");
    let csv = customers_csv(&dir.0, 24);
    let args = [
        "customers",
        "import",
        csv.to_str().unwrap(),
        "--database",
        &db,
    ];
    // piped: the count, and no bar in the way of logs
    let out = hotline().args(args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "24 customers imported\n");
    assert_eq!(
        stderr(&out),
        "",
        "no progress bar when stderr is not a terminal"
    );
    // on a terminal (script(1) gives it one): the bar while the secrets are hashed
    if common::tool("script").is_none() {
        return;
    }
    let line = format!(
        "RUST_LOG=off {} {}",
        env!("CARGO_BIN_EXE_hotline"),
        args.join(" ")
    );
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("hashing secrets"), "{text}");
    assert!(text.contains("24 customers imported"), "{text}");
}

#[test]
fn a_config_file_mistake_names_file_line_and_layer() {
    let dir = TempDir::new("surprise-config");
    let file = dir.0.join("hotline.toml");
    let path = file.display().to_string();
    std::fs::write(
        &file,
        "# hotline settings\nrealm = \"hotline\"\nsip_listen = \"nonsense\"\nhttp_listen = \"127.0.0.1:8080\"\nring_delay_ms = 250\n\n[followups]\nforward = \"soon\"\n",
    )
    .unwrap();
    let check = |extra: &[&str], env: &[(&str, &str)]| {
        let out = hotline()
            .args([
                "check",
                "--config",
                &path,
                "--dialplans",
                PLANS,
                "--prompts",
                PROMPTS,
            ])
            .args(extra)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success());
        stdout(&out)
    };
    let text = check(&[], &[]);
    assert!(
        text.lines().any(|l| l
            == format!(
                "sip_listen (config file {path}:3): 'nonsense' is not an address like 0.0.0.0:5060"
            )),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("followups.forward (config file {path}:8): "))),
        "{text}"
    );
    assert_eq!(
        text.lines().count(),
        2,
        "http_listen from the file is fine: {text}"
    );
    // the same mistake given by flag or environment is blamed on that
    let text = check(&["--sip-listen", "flagged", "--http-listen", "x"], &[]);
    assert!(
        text.contains("sip_listen (flag --sip-listen): 'flagged'"),
        "{text}"
    );
    assert!(
        text.contains("http_listen (flag --http-listen): 'x'"),
        "{text}"
    );
    let text = check(&[], &[("HOTLINE_SIP_LISTEN", "from-env")]);
    assert!(
        text.contains("sip_listen (environment HOTLINE_SIP_LISTEN): 'from-env'"),
        "{text}"
    );
    // HTTPS settings: half a pair is named by the half given
    let text = check(&[], &[("HOTLINE_HTTP_KEY", &path)]);
    assert!(
        text.contains("http_key (environment HOTLINE_HTTP_KEY): HTTPS needs both"),
        "{text}"
    );
    let err = hotline()
        .args(["agents", "list", "--config", &path])
        .env("HOTLINE_DATABASE", "mysql://u:pw@db/x")
        .output()
        .unwrap();
    let err = stderr(&err);
    assert!(
        err.contains("database (environment HOTLINE_DATABASE)"),
        "{err}"
    );
    // a syntax error: the file and the line
    std::fs::write(&file, "realm = \"hotline\"\ndrain_secs = = 3\n").unwrap();
    let err = failed(&["agents", "list", "--config", &path]);
    assert!(
        err.starts_with(&format!("hotline: config file {path}:2: ")),
        "{err}"
    );
}

#[test]
fn postgres_without_hotline_tables_is_refused_and_reports_read_only() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(common::db::TestDb::postgres()) else {
        return;
    };
    let err = failed(&["agents", "list", "--database", &db.url]);
    assert!(
        err.contains("no hotline database at postgres://") && err.contains("hotline migrate"),
        "{err}"
    );
    ok(&["migrate", "--database", &db.url]);
    add_agent(&db.url, "1024", "李雷", "801");
    assert!(ok(&["agents", "list", "--database", &db.url]).contains("李雷"));
    ok(&[
        "report",
        "daily",
        "--day",
        "2026-11-23",
        "--database",
        &db.url,
        "--dialplans",
        PLANS,
    ]);
    // the read-only store's sessions refuse a write, whatever asks for it
    let refused = rt.block_on(async {
        let store = Store::open_read_only(&db.url).await.unwrap();
        let refused = store.remove_agent("1024").await.is_err();
        store.close().await;
        refused
    });
    assert!(refused, "a read-only PostgreSQL session wrote");
    assert!(ok(&["agents", "list", "--database", &db.url]).contains("李雷"));
    rt.block_on(db.finish());
}

#[test]
fn a_read_only_sqlite_store_refuses_writes() {
    let dir = TempDir::new("surprise-read-only-store");
    let db = common::migrated_db(&dir, "ro");
    add_agent(&db, "1024", "李雷", "801");
    let refused = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = Store::open_read_only(&db).await.unwrap();
        let refused = store.remove_agent("1024").await.is_err();
        store.close().await;
        refused
    });
    assert!(refused, "a read-only SQLite connection wrote");
    assert!(ok(&["agents", "list", "--database", &db]).contains("李雷"));
}
