//! A cluster on this machine for end-to-end tests: Kamailio as the edge on 127.0.0.10,
//! hotline nodes on 127.0.0.11 and 127.0.0.12, one throw-away PostgreSQL schema, baresip
//! agents that register once at the edge, SIPp callers; all removed on drop.
#![allow(dead_code)]

use super::baresip::{hotline, wait_until, Agent};
use super::db::TestDb;
use super::kamailio::{self, Kamailio};
use super::pgrelay::PgRelay;
use super::{free_port, run_sipp, tool, Server, TempDir};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

const PLAN: &str = include_str!("../fixtures/queue-plan.toml");

const QUEUES: &str = r#"
[queues.general]
strategy = "longest_idle"
ring_timeout_secs = 8
max_wait_secs = 20
wrap_up_secs = 1
announce_every_secs = 30
wait_when_empty = true
"#;

const EDGE_IP: &str = "127.0.0.10";
const NODE_IPS: [&str; 2] = ["127.0.0.11", "127.0.0.12"];

/// Everything a cluster test runs on.
pub struct Cluster {
    pub db: Option<TestDb>,
    pub pool: sqlx::PgPool,
    pub rt: tokio::runtime::Runtime,
    pub edge: Kamailio,
    pub nodes: Vec<Server>,
    pub ports: Vec<u16>,
    pub dir: TempDir,
    /// The node (index) whose database connections go through a relay, and the relay.
    pub relay: Option<(usize, PgRelay)>,
}

impl Cluster {
    /// The database (migrated, Kamailio's tables, agents `ids` in queue `general`), the
    /// edge, and the nodes, node `relay_for` reaching the database through a [`PgRelay`]
    /// (to cut it off from the database). `None` (the reason printed) when a part is
    /// missing.
    pub fn start_with(ids: &[&str], relay_for: Option<usize>) -> Option<Cluster> {
        if kamailio::available().is_some() || tool("sipp").is_none() || tool("baresip").is_none() {
            return None;
        }
        let rt = tokio::runtime::Runtime::new().unwrap();
        let db = rt.block_on(TestDb::postgres())?;
        super::migrate(&db.url);
        let pool = rt.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
        rt.block_on(kamailio::apply_usrloc(&pool)).unwrap();
        for id in ids {
            hotline(&[
                "agents",
                "--database",
                &db.url,
                "add",
                "--id",
                id,
                "--name",
                id,
                "--password",
                "secret-pass",
                "--queue",
                "general",
            ]);
        }
        let dir = TempDir::new("cluster");
        std::fs::create_dir_all(dir.0.join("plans")).unwrap();
        std::fs::write(dir.0.join("plans/test.toml"), PLAN).unwrap();
        std::fs::write(dir.0.join("queues.toml"), QUEUES).unwrap();
        let ports: Vec<u16> = NODE_IPS.iter().map(|_| free_port()).collect();
        let node_addrs: Vec<SocketAddr> = NODE_IPS
            .iter()
            .zip(&ports)
            .map(|(ip, port)| format!("{ip}:{port}").parse().unwrap())
            .collect();
        let edge_addr: SocketAddr = format!("{EDGE_IP}:{}", free_port()).parse().unwrap();
        let edge = Kamailio::start(
            &dir.0.join("edge"),
            &db.url,
            edge_addr,
            &node_addrs,
            "hotline",
        )
        .unwrap_or_else(|e| panic!("kamailio: {e}"));
        let relay = relay_for.map(|i| (i, PgRelay::start(&db.url)));
        let mut cluster = Cluster {
            db: Some(db),
            pool,
            rt,
            edge,
            nodes: Vec::new(),
            ports: ports.clone(),
            dir,
            relay,
        };
        for (i, port) in ports.iter().enumerate() {
            cluster.start_node(i, *port);
        }
        Some(cluster)
    }

    pub fn node_args(&self, i: usize) -> Vec<String> {
        let d = &self.dir.0;
        vec![
            "--node-id".into(),
            format!("node-{}", ["a", "b"][i]),
            "--edge".into(),
            self.edge.addr(),
            "--ring-delay-ms".into(),
            "0".into(),
            "--dialplans".into(),
            d.join("plans").display().to_string(),
            "--queues".into(),
            d.join("queues.toml").display().to_string(),
            "--prompts".into(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/prompts").into(),
        ]
    }

    pub fn start_node(&mut self, i: usize, port: u16) {
        let args = self.node_args(i);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let url = match &self.relay {
            Some((r, relay)) if *r == i => relay.url.clone(),
            _ => self.db.as_ref().unwrap().url.clone(),
        };
        let node = Server::start_at(NODE_IPS[i], port, &url, &args, "info,sqlx=warn");
        self.nodes.push(node);
    }

    /// The cluster with a phone for each of `ids` registered at the edge and its agent
    /// logged in, once both nodes have followed the logins.
    pub fn with_agents(ids: &[&str], relay_for: Option<usize>) -> Option<(Cluster, Vec<Agent>)> {
        let c = Cluster::start_with(ids, relay_for)?;
        let phones = c.phones(ids);
        for (id, phone) in ids.iter().zip(&phones) {
            c.login(id, phone);
        }
        std::thread::sleep(Duration::from_secs(3));
        Some((c, phones))
    }

    /// Whether every call and every leg has ended.
    pub fn all_closed(&self) -> bool {
        self.scalar("SELECT COUNT(*) FROM calls WHERE ended_at IS NULL") == 0
            && self.scalar("SELECT COUNT(*) FROM call_legs WHERE ended_at IS NULL") == 0
    }

    /// Phones for `ids`, registered at the edge (seen in Kamailio's `location`).
    pub fn phones(&self, ids: &[&str]) -> Vec<Agent> {
        let phones: Vec<Agent> = ids
            .iter()
            .map(|id| Agent::start(id, "secret-pass", &self.edge.addr()))
            .collect();
        let registered = wait_until(Duration::from_secs(15), || {
            self.scalar("SELECT COUNT(DISTINCT username) FROM location") == ids.len() as i64
        });
        assert!(
            registered,
            "phones did not register at the edge:\n{}",
            self.edge.log()
        );
        phones
    }

    /// Logs the agent in by feature code, dialled at the edge (which picks the node).
    pub fn login(&self, id: &str, phone: &Agent) {
        phone.command("dial", &format!("sip:*1@{}", self.edge.addr()));
        let ok = wait_until(Duration::from_secs(20), || self.state(id) == "available");
        assert!(
            ok,
            "agent {id} never logged in:\n{}\n{}",
            self.logs(),
            phone.log()
        );
    }

    pub fn state(&self, id: &str) -> String {
        let q =
            "SELECT state FROM agent_states WHERE agent_id = $1 ORDER BY at DESC, seq DESC LIMIT 1";
        self.rt
            .block_on(sqlx::query_scalar(q).bind(id).fetch_optional(&self.pool))
            .unwrap()
            .unwrap_or_default()
    }

    /// The agent talking on a call of `node`, as its claim says.
    pub fn talking_on(&self, node: &str) -> Option<String> {
        let q = "SELECT agent_id FROM agent_claims WHERE node_id = $1 AND state = 'on_call'";
        self.rt
            .block_on(sqlx::query_scalar(q).bind(node).fetch_optional(&self.pool))
            .unwrap()
    }

    pub fn scalar(&self, q: &str) -> i64 {
        self.rt
            .block_on(sqlx::query_scalar(q).fetch_one(&self.pool))
            .unwrap()
    }

    /// SIPp callers through the edge: `calls` calls at `rate` per second, each hanging
    /// up `hold_ms` after the answer; SIPp's statistics.
    pub fn callers(
        &self,
        to: &str,
        calls: u32,
        rate: u32,
        hold_ms: u32,
    ) -> HashMap<String, String> {
        let dir = TempDir::new("cluster-sipp");
        run_sipp(
            &dir.0,
            &sipp_args(to, calls, rate, hold_ms),
            Duration::from_secs(180),
        )
    }

    /// The same, running while the test goes on; killed when dropped.
    pub fn callers_in_background(&self, to: &str, calls: u32, rate: u32, hold_ms: u32) -> Callers {
        let dir = TempDir::new("cluster-sipp-bg");
        let child = std::process::Command::new(tool("sipp").unwrap())
            .current_dir(&dir.0)
            .args(sipp_args(to, calls, rate, hold_ms))
            .arg("-nostdin")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Callers { child, _dir: dir }
    }

    pub fn logs(&self) -> String {
        let mut out = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            out.push_str(&format!("--- node {i} ---\n{}\n", tail(&n.log(), 120)));
        }
        out.push_str(&format!("--- edge ---\n{}\n", tail(&self.edge.log(), 60)));
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.nodes.clear();
        self.edge.stop();
        if let Some(db) = self.db.take() {
            self.rt.block_on(self.pool.close());
            self.rt.block_on(db.finish());
        }
    }
}

/// SIPp callers started by [`Cluster::callers_in_background`].
pub struct Callers {
    child: std::process::Child,
    _dir: TempDir,
}

impl Drop for Callers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SIPp arguments for `calls` customer calls to `to` at `rate` per second, each hanging
/// up `hold_ms` after the answer (tests/sipp/edge_call.xml, caller 13800138000).
pub fn sipp_args(to: &str, calls: u32, rate: u32, hold_ms: u32) -> Vec<String> {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sipp/edge_call.xml");
    let args: Vec<String> = [
        to,
        "-sf",
        scenario,
        "-s",
        "95588",
        "-key",
        "from_user",
        "13800138000",
        "-key",
        "from_host",
        "customer.example",
        "-i",
        "127.0.0.1",
        "-mi",
        "127.0.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        "-p".into(),
        free_port().to_string(),
        "-mp".into(),
        super::free_ports(4).to_string(),
        "-m".into(),
        calls.to_string(),
        "-r".into(),
        rate.to_string(),
        "-l".into(),
        "200".into(),
        "-d".into(),
        hold_ms.to_string(),
        "-timeout".into(),
        "120s".into(),
    ])
    .collect();
    args
}

pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Each agent's legs, in start order: (node, started, ended, answered).
pub type Legs = HashMap<String, Vec<(String, i64, i64, bool)>>;

pub fn legs(c: &Cluster) -> Legs {
    type Row = (String, Option<String>, i64, Option<i64>, Option<i64>);
    let rows: Vec<Row> =
        c.rt.block_on(
            sqlx::query_as(
                "SELECT agent_id, node_id, started_at, ended_at, answered_at FROM call_legs \
                 ORDER BY agent_id, started_at",
            )
            .fetch_all(&c.pool),
        )
        .unwrap();
    let mut out: Legs = HashMap::new();
    for (agent, node, start, end, answered) in rows {
        out.entry(agent).or_default().push((
            node.unwrap_or_default(),
            start,
            end.unwrap_or(i64::MAX),
            answered.is_some(),
        ));
    }
    out
}

/// No agent was ever offered two calls at once, whichever nodes the calls were on: per
/// agent, each leg ended before the next began.
pub fn assert_one_call_at_a_time(legs: &Legs) {
    for (agent, list) in legs {
        for pair in list.windows(2) {
            assert!(
                pair[0].2 <= pair[1].1,
                "agent {agent} rung for two calls at once: {:?} then {:?}",
                pair[0],
                pair[1]
            );
        }
    }
}
