//! The HTTP API in process, through the router as a tower service: every route with each
//! role (401 without a token, 403 below the role), problems as RFC 9457 documents,
//! pagination, the follow-up rules shared with the command line, the live board and its
//! event stream, login cookies, health and readiness, and the OpenAPI document naming
//! only routes that exist.

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use common::db::TestDb;
use hotline::acd::Alert;
use hotline::http::{router, Control, Readiness, Setup, Today};
use hotline::store::{now_ms, FollowUpKind, FollowUpStatus, NewAgent, NewFollowUp, Role, Store};
use hotline::switchboard::{Live, LiveAgent, LiveCaller, LiveQueue};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

struct Api {
    router: Router,
    store: Store,
    live: watch::Sender<Arc<Live>>,
    ready: Arc<Readiness>,
    viewer: String,
    agent: String,
    supervisor: String,
    admin: String,
    _db: TestDb,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn queue(name: &str, waiting: Vec<LiveCaller>) -> LiveQueue {
    LiveQueue {
        name: name.into(),
        waiting,
        alert: Alert {
            service_level_pct: 80,
            longest_wait: Duration::from_secs(60),
        },
    }
}

fn agent(id: &str, state: &'static str) -> LiveAgent {
    LiveAgent {
        id: id.into(),
        state,
        reason: None,
        since_ms: Some(now_ms() - 5_000),
        reachable: true,
        queues: vec!["general".into()],
    }
}

/// A router over a fresh SQLite store with one token per role; reloads are answered by
/// a stand-in for the core task: the first succeeds, later ones are refused.
async fn api() -> Api {
    let db = TestDb::sqlite();
    let store = Store::connect(&db.url).await.expect("store");
    store
        .add_agent(
            &NewAgent {
                id: "1024".into(),
                name: "李雷".into(),
                extension: "1024".into(),
                password: "long enough secret 1".into(),
                realm: "hotline".into(),
                queues: vec![("general".into(), 0)],
            },
            now_ms(),
        )
        .await
        .expect("agent");
    let token = |name: &'static str, role: Role, agent: Option<&'static str>| {
        let store = store.clone();
        async move {
            store
                .add_token(name, role, agent, now_ms())
                .await
                .expect("token")
                .secret
        }
    };
    let viewer = token("wall", Role::Viewer, None).await;
    let agent_token = token("lilei", Role::Agent, Some("1024")).await;
    let supervisor = token("boss", Role::Supervisor, None).await;
    let admin = token("ops", Role::Admin, None).await;
    let (live, live_rx) = watch::channel(Arc::new(Live::default()));
    let (_today_tx, today) = watch::channel(Arc::new(Today::default()));
    let (control, mut requests) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _keep = _today_tx;
        let mut first = true;
        while let Some(Control::Reload(reply)) = requests.recv().await {
            let answer = match first {
                true => Ok(1),
                false => Err("dialplans/hotline.toml:7: unknown node kind".to_string()),
            };
            first = false;
            let _ = reply.send(answer);
        }
    });
    let ready = Arc::new(Readiness::default());
    let router = router(Setup {
        store: store.clone(),
        live: live_rx,
        today,
        control,
        ready: ready.clone(),
        rules: Default::default(),
        calendar: hotline::cli::default_calendar(),
        reports: Default::default(),
        metrics: Some(
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .build_recorder()
                .handle(),
        ),
        secure_cookies: false,
    });
    Api {
        router,
        store,
        live,
        ready,
        viewer,
        agent: agent_token,
        supervisor,
        admin,
        _db: db,
    }
}

impl Api {
    async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.expect("service");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    async fn followup(&self, kind: FollowUpKind, owner: Option<&str>, urgency: i32) -> String {
        let mut f = NewFollowUp::new(kind, "13800138000", now_ms());
        f.owner = owner.map(str::to_string);
        f.urgency = urgency;
        f.due_answer = Some(now_ms() - 60_000);
        self.store.create_followup(&f).await.expect("follow-up")
    }
}

fn assert_problem(r: &Reply, status: StatusCode) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(
        r.headers[header::CONTENT_TYPE],
        "application/problem+json",
        "{}",
        r.body
    );
    let p = r.json();
    assert_eq!(p["status"], status.as_u16());
    assert!(!p["detail"].as_str().unwrap_or("").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_route_needs_a_token_and_the_right_role() {
    let api = api().await;
    // (method, path, least role)
    let routes = [
        (Method::GET, "/api/v1/live", Role::Viewer),
        (Method::GET, "/api/v1/queues", Role::Viewer),
        (Method::GET, "/api/v1/agents", Role::Viewer),
        (Method::GET, "/metrics", Role::Viewer),
        (Method::GET, "/api/v1/followups", Role::Agent),
        (Method::GET, "/api/v1/calls", Role::Agent),
        (
            Method::GET,
            "/api/v1/reports/daily/2026-12-07",
            Role::Supervisor,
        ),
        (Method::POST, "/api/v1/agents/2048/state", Role::Supervisor),
        (Method::POST, "/api/v1/reload", Role::Admin),
    ];
    let tokens = [
        (Role::Viewer, &api.viewer),
        (Role::Agent, &api.agent),
        (Role::Supervisor, &api.supervisor),
        (Role::Admin, &api.admin),
    ];
    for (method, path, least) in &routes {
        let none = api.call(method.clone(), path, None, Some(json!({}))).await;
        assert_problem(&none, StatusCode::UNAUTHORIZED);
        assert!(none.headers.contains_key(header::WWW_AUTHENTICATE));
        let wrong = api
            .call(
                method.clone(),
                path,
                Some("hl_not_a_token"),
                Some(json!({})),
            )
            .await;
        assert_problem(&wrong, StatusCode::UNAUTHORIZED);
        for (role, token) in &tokens {
            let body = json!({"action": "pause", "reason": "lunch"});
            let r = api
                .call(method.clone(), path, Some(token), Some(body))
                .await;
            if role < least {
                assert_problem(&r, StatusCode::FORBIDDEN);
            } else {
                assert!(
                    r.status.is_success() || r.status == StatusCode::NOT_FOUND,
                    "{method} {path} as {role}: {} {}",
                    r.status,
                    r.body
                );
            }
        }
    }
    // Health and readiness need no token; readiness says what is missing.
    assert_eq!(api.get("/healthz", None).await.status, StatusCode::OK);
    let r = api.get("/readyz", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json()["database"], true);
    assert_eq!(r.json()["sip"], false);
    api.ready.set(true, true);
    assert_eq!(api.get("/readyz", None).await.status, StatusCode::OK);
    // A revoked token is refused from then on.
    api.store.revoke_token("wall", now_ms()).await.unwrap();
    assert_problem(
        &api.get("/api/v1/live", Some(&api.viewer)).await,
        StatusCode::UNAUTHORIZED,
    );
    // Unknown paths are problems too.
    assert_problem(
        &api.get("/api/v1/nothing", Some(&api.admin)).await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followups_follow_the_same_rules_as_the_command_line() {
    let api = api().await;
    let mine = api.followup(FollowUpKind::Callback, Some("1024"), 5).await;
    let complaint = api.followup(FollowUpKind::Complaint, None, 1).await;
    let other = api.followup(FollowUpKind::Callback, Some("2048"), 9).await;

    // An agent sees and acts on their own follow-ups only.
    let list = api.get("/api/v1/followups", Some(&api.agent)).await.json();
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine.as_str()]);
    assert_eq!(
        list["items"][0]["number"], "138****8000",
        "masked by default"
    );
    assert_problem(
        &api.get(&format!("/api/v1/followups/{other}"), Some(&api.agent))
            .await,
        StatusCode::NOT_FOUND,
    );
    let r = api
        .post(
            &format!("/api/v1/followups/{mine}/note"),
            &api.agent,
            json!({"text": "called, no answer"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let shown = api
        .get(
            &format!("/api/v1/followups/{mine}?show_numbers=true"),
            Some(&api.agent),
        )
        .await
        .json();
    assert_eq!(shown["number"], "13800138000");
    assert_eq!(
        shown["notes"][0]["author"], "lilei",
        "the token's name is the author"
    );
    assert_eq!(shown["overdue"][0], "answer");

    // A supervisor sees all, most urgent first, a page at a time.
    let page = api
        .get("/api/v1/followups?limit=2", Some(&api.supervisor))
        .await
        .json();
    let first: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(first, [other.as_str(), mine.as_str()]);
    let next = page["next"].as_str().expect("a next page");
    let rest = api
        .get(
            &format!("/api/v1/followups?limit=2&after={next}"),
            Some(&api.supervisor),
        )
        .await
        .json();
    assert_eq!(rest["items"][0]["id"], complaint.as_str());
    assert!(rest.get("next").is_none(), "the last page has no next");
    let only = api
        .get("/api/v1/followups?kind=complaint", Some(&api.supervisor))
        .await
        .json();
    assert_eq!(only["items"].as_array().unwrap().len(), 1);
    assert_problem(
        &api.get("/api/v1/followups?kind=nonsense", Some(&api.supervisor))
            .await,
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        &api.get("/api/v1/followups?limit=0", Some(&api.supervisor))
            .await,
        StatusCode::BAD_REQUEST,
    );
    let past = "/api/v1/followups?after=18446744073709551615";
    let r = api.get(past, Some(&api.supervisor)).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a page past the end is empty: {}",
        r.body
    );
    assert!(r.json()["items"].as_array().unwrap().is_empty());

    // The rules: a complaint is closed only after its revisit; resolving makes the revisit;
    // an unsatisfied revisit reopens the complaint.
    let base = format!("/api/v1/followups/{complaint}");
    assert_problem(
        &api.post(&format!("{base}/close"), &api.supervisor, json!({}))
            .await,
        StatusCode::CONFLICT,
    );
    assert_problem(
        &api.post(&format!("{base}/resolve"), &api.supervisor, json!({}))
            .await,
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        &api.post(&format!("{base}/fly"), &api.supervisor, json!({}))
            .await,
        StatusCode::NOT_FOUND,
    );
    let r = api
        .post(
            &format!("{base}/forward"),
            &api.supervisor,
            json!({"to": "billing"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = api
        .post(
            &format!("{base}/resolve"),
            &api.supervisor,
            json!({"outcome": "refunded"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.json()["result"].as_str().unwrap().contains("revisit"),
        "{}",
        r.body
    );
    let revisit = api
        .store
        .followups()
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.parent_id.as_deref() == Some(complaint.as_str()))
        .expect("revisit made");
    let r = api
        .post(
            &format!("/api/v1/followups/{}/revisit", revisit.id),
            &api.supervisor,
            json!({"satisfied": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let c = api.store.followup(&complaint).await.unwrap().unwrap();
    assert_eq!(
        c.status,
        FollowUpStatus::Forwarded,
        "reopened to its department"
    );
    assert!(c.urgency > 1, "urgency raised");
    // A forced close needs a supervisor; an agent cannot force.
    let r = api
        .post(
            &format!("/api/v1/followups/{mine}/close"),
            &api.agent,
            json!({"reason": "duplicate"}),
        )
        .await;
    assert_problem(&r, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_change_their_own_state_and_supervisors_anyones() {
    let api = api().await;
    let r = api
        .post(
            "/api/v1/agents/1024/state",
            &api.agent,
            json!({"action": "pause", "reason": "lunch"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let asked = api.store.take_agent_requests(now_ms()).await.unwrap();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        (asked[0].action.as_str(), asked[0].reason.as_str()),
        ("pause", "lunch")
    );
    assert_problem(
        &api.post(
            "/api/v1/agents/1024/state",
            &api.supervisor,
            json!({"action": "dance"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        &api.post(
            "/api/v1/agents/9999/state",
            &api.supervisor,
            json!({"action": "login"}),
        )
        .await,
        StatusCode::NOT_FOUND,
    );
    let r = api
        .post(
            "/api/v1/agents/1024/state",
            &api.supervisor,
            json!({"action": "resume"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_board_and_its_event_stream_follow_the_switchboard() {
    let api = api().await;
    let caller = LiveCaller {
        call_id: "c-1".into(),
        caller: "138****8000".into(),
        priority: 0,
        queued_at_ms: now_ms() - 90_000,
        ringing: vec![],
    };
    api.live.send_replace(Arc::new(Live {
        queues: vec![queue("general", vec![caller])],
        agents: vec![agent("1024", "paused")],
        calls_active: 1,
    }));
    let board = api.get("/api/v1/live", Some(&api.viewer)).await.json();
    let q = &board["queues"][0];
    assert_eq!(q["waiting"], 1);
    assert!(q["longest_wait_secs"].as_u64().unwrap() >= 90);
    assert_eq!(
        q["alerts"],
        json!(["longest_wait"]),
        "90 s is past the 60 s threshold"
    );
    assert_eq!(q["agents"]["paused"], 1);
    assert_eq!(
        board["agents"][0]["name"],
        Value::Null,
        "names come with today's figures"
    );
    let agents = api.get("/api/v1/agents", Some(&api.viewer)).await.json();
    assert_eq!(agents[0]["state"], "paused");

    // The stream sends the board at once, then again when the switchboard changes.
    let req = Request::get("/api/v1/live/events")
        .header(header::AUTHORIZATION, format!("Bearer {}", api.viewer))
        .body(Body::empty())
        .unwrap();
    let res = api.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = res.into_body();
    let mut text = String::new();
    let mut next_event = async || loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("an event within 5 s")
            .expect("stream open")
            .expect("frame");
        if let Some(data) = frame.data_ref() {
            text.push_str(&String::from_utf8_lossy(data));
        }
        if let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                return serde_json::from_str::<Value>(data).unwrap();
            }
        }
    };
    let first = next_event().await;
    assert_eq!(first["queues"][0]["waiting"], 1);
    api.live.send_replace(Arc::new(Live {
        queues: vec![queue("general", vec![])],
        agents: vec![agent("1024", "available")],
        calls_active: 0,
    }));
    let second = next_event().await;
    assert_eq!(second["queues"][0]["waiting"], 0);
    assert_eq!(second["agents"][0]["state"], "available");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_reload_and_metrics() {
    let api = api().await;
    let r = api
        .get("/api/v1/reports/daily/2026-12-07", Some(&api.supervisor))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["kind"], "daily");
    assert_eq!(r.json()["kpis"]["offered"], 0);
    let r = api
        .get("/api/v1/reports/monthly/2026-11", Some(&api.supervisor))
        .await;
    assert!(r.json()["complaints"].is_object(), "{}", r.body);
    assert_problem(
        &api.get("/api/v1/reports/daily/yesterday", Some(&api.supervisor))
            .await,
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        &api.get("/api/v1/reports/weekly/2026-11", Some(&api.supervisor))
            .await,
        StatusCode::NOT_FOUND,
    );

    let r = api
        .call(Method::POST, "/api/v1/reload", Some(&api.admin), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["plans"], 1);
    let r = api
        .call(Method::POST, "/api/v1/reload", Some(&api.admin), None)
        .await;
    assert_problem(&r, StatusCode::BAD_REQUEST);
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("hotline.toml:7"));

    let r = api.get("/metrics", Some(&api.viewer)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_log_in_with_a_cookie_and_pages_are_served_from_the_binary() {
    let api = api().await;
    // No token: the pages send the browser to the login page.
    let r = api.get("/", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], "/login?next=/");
    let r = api.get("/login?next=/desk", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("value=\"/desk\""));
    // A wrong token stays on the login page; a right one sets an HttpOnly cookie.
    let form = |token: &str, next: &str| {
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}&next={next}")))
            .unwrap()
    };
    let r = api.send(form("hl_wrong", "/desk")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = api.send(form(&api.agent, "//evil.example/")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers[header::LOCATION],
        "/",
        "only local paths after login"
    );
    // A tab the browser would drop ("/\t/evil" → "//evil") does not get through either.
    let r2 = api.send(form(&api.agent, "/%09/evil.example/")).await;
    assert_eq!(r2.headers[header::LOCATION], "/");
    let cookie = r.headers[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let cookie = cookie.split(';').next().unwrap().to_string();
    let page = |path: &str, cookie: &str| {
        Request::get(path)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap()
    };
    let r = api.send(page("/desk", &cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("lilei · agent"),
        "the desk names its holder"
    );
    assert!(r.body.contains("/assets/desk.js"));
    let r = api.send(page("/", &cookie)).await;
    assert!(r.body.contains("/assets/wallboard.js"));
    // A stale cookie is only "not logged in": the login page stays reachable.
    let r = api.send(page("/login", "hotline_token=hl_stale")).await;
    assert_eq!(r.status, StatusCode::OK);
    // Every page is a whole document: the shared head, the language switcher, the end.
    assert!(r.body.starts_with("<!doctype html>") && r.body.contains("/assets/app.css"));
    assert!(r.body.contains("<form") && r.body.contains("/assets/i18n.js"));
    assert!(r.body.trim_end().ends_with("</html>"));
    // Assets need no token and carry no data.
    let r = api.get("/assets/app.css", None).await;
    assert!(r.body.contains("Noto Sans CJK SC"), "a CJK font stack");
    assert_problem(
        &api.get("/assets/secret.txt", None).await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_names_only_routes_that_exist() {
    let api = api().await;
    let doc = api.get("/api/v1/openapi.json", None).await.json();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 12);
    for (path, ops) in paths {
        if path.ends_with("/events") {
            continue; // an endless stream; routed and tested by the live board test
        }
        for method in ops.as_object().unwrap().keys() {
            let concrete = path
                .replace("{id}", "1024")
                .replace("{action}", "note")
                .replace("{kind}", "daily")
                .replace("{period}", "2026-12-07");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = api
                .call(
                    method.clone(),
                    &format!("/api/v1{concrete}"),
                    Some(&api.admin),
                    Some(json!({"text": "x", "action": "login"})),
                )
                .await;
            let fallback =
                r.status == StatusCode::NOT_FOUND && r.body.contains("no such page or API route");
            assert!(!fallback, "{method} {path} is documented but not routed");
            assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        }
    }
}
