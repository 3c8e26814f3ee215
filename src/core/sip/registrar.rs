//! The registrar (RFC 3261 10.3) and the digest authenticator in front of it.
//!
//! Sans-IO like the rest of `core`: time comes in as `now`, the nonce secret and a PRNG
//! seed come in through the constructor, and every call returns what to answer and which
//! bindings changed, so the runtime persists them and tells the queue.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::auth::{challenge, ha1, parse_authorization, verify, Algorithm, Credentials};
use super::auth::{NonceCheck, NonceCounts, NonceIssuer};

/// An agent's SIP account, as loaded from the `agents` table.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// The digest user name the phone registers with.
    pub extension: String,
    pub agent_id: String,
    pub ha1_sha256: String,
    pub ha1_md5: String,
}

impl std::fmt::Debug for Account {
    // An HA1 is as good as the password within our realm: keep it out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("extension", &self.extension)
            .field("agent_id", &self.agent_id)
            .finish_non_exhaustive()
    }
}

/// Brute-force limits. Failures are counted in a fixed window opened by the first one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPolicy {
    pub nonce_lifetime: Duration,
    pub source_max_failures: u32,
    pub source_window: Duration,
    pub source_ban: Duration,
    pub account_max_failures: u32,
    pub account_window: Duration,
    pub account_lock: Duration,
    /// Nonces whose nc is remembered (replay protection).
    pub nonce_counts: usize,
    /// Source addresses tracked at most; beyond it new sources go uncounted (the account
    /// lock still applies) rather than memory growing with a spoofed flood.
    pub max_sources: usize,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        AuthPolicy {
            nonce_lifetime: Duration::from_secs(300),
            source_max_failures: 5,
            source_window: Duration::from_secs(60),
            source_ban: Duration::from_secs(300),
            account_max_failures: 10,
            account_window: Duration::from_secs(60),
            account_lock: Duration::from_secs(300),
            nonce_counts: 4096,
            max_sources: 10_000,
        }
    }
}

/// What the runtime answers to a request that needs authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// 401 with these `WWW-Authenticate` headers.
    Challenge {
        headers: Vec<(String, String)>,
    },
    /// 403; the same for an unknown user, a wrong password and a locked account.
    Forbidden,
    /// The source is banned: send nothing.
    Ignore,
    Ok {
        extension: String,
        agent_id: String,
    },
}

/// Failures within a window, and the ban they led to.
#[derive(Debug, Clone, Copy)]
struct Strikes {
    window_end: Instant,
    count: u32,
    banned_until: Option<Instant>,
}

impl Strikes {
    fn banned(&self, now: Instant) -> bool {
        self.banned_until.is_some_and(|t| now < t)
    }

    /// When this entry can be forgotten.
    fn end(&self) -> Instant {
        self.banned_until
            .map_or(self.window_end, |t| t.max(self.window_end))
    }

    /// Counts a failure; true when it reaches `max` and starts a ban.
    fn fail(&mut self, now: Instant, max: u32, window: Duration, ban: Duration) -> bool {
        if now >= self.window_end {
            self.count = 0;
            self.window_end = now + window;
        }
        self.count += 1;
        if self.count < max {
            return false;
        }
        self.count = 0;
        self.banned_until = Some(now + ban);
        true
    }
}

fn fresh(now: Instant) -> Strikes {
    Strikes {
        window_end: now,
        count: 0,
        banned_until: None,
    }
}

/// Digest authentication against the agents' accounts, with per-source and per-account
/// failure limits. Used for REGISTER and for INVITEs to feature codes.
#[derive(Debug)]
pub struct Authenticator {
    realm: String,
    policy: AuthPolicy,
    issuer: NonceIssuer,
    counts: NonceCounts,
    accounts: HashMap<String, Account>,
    /// Verified against for unknown users, so they cost the same work as known ones.
    dummy: Account,
    sources: HashMap<IpAddr, Strikes>,
    locks: HashMap<String, Strikes>,
    rng: u64,
    /// The monotonic clock paired with wall seconds at construction: nonces carry wall
    /// time so they stay checkable across restarts when the secret is kept.
    epoch: (Instant, u64),
}

impl Authenticator {
    /// `secret` keys the nonces; `seed` feeds the nonce randomness; `now`/`now_secs` are
    /// the same moment on the monotonic and the wall clock.
    pub fn new(
        realm: impl Into<String>,
        secret: [u8; 32],
        seed: u64,
        policy: AuthPolicy,
        now: Instant,
        now_secs: u64,
    ) -> Self {
        let realm = realm.into();
        let noise = hex::encode(secret);
        let dummy = Account {
            extension: String::new(),
            agent_id: String::new(),
            ha1_sha256: ha1(Algorithm::Sha256, "", &realm, &noise),
            ha1_md5: ha1(Algorithm::Md5, "", &realm, &noise),
        };
        Authenticator {
            issuer: NonceIssuer::new(secret, policy.nonce_lifetime.as_secs()),
            counts: NonceCounts::new(policy.nonce_counts),
            realm,
            policy,
            accounts: HashMap::new(),
            dummy,
            sources: HashMap::new(),
            locks: HashMap::new(),
            rng: seed,
            epoch: (now, now_secs),
        }
    }

    /// Replaces the accounts; locks of removed accounts are forgotten.
    pub fn set_accounts(&mut self, accounts: Vec<Account>) {
        self.accounts = accounts
            .into_iter()
            .map(|a| (a.extension.clone(), a))
            .collect();
        self.locks.retain(|ext, _| self.accounts.contains_key(ext));
    }

    pub fn account(&self, extension: &str) -> Option<&Account> {
        self.accounts.get(extension)
    }

    /// Checks a request's `Authorization` values (all of them; phones may send one per
    /// realm) and says how to answer.
    pub fn authenticate(
        &mut self,
        now: Instant,
        source: IpAddr,
        method: &str,
        authorization: &[&str],
    ) -> AuthOutcome {
        if self.sources.get(&source).is_some_and(|s| s.banned(now)) {
            return AuthOutcome::Ignore;
        }
        // Ours only; SHA-256 first when a phone answered both challenges.
        let mut ours: Vec<Credentials> = authorization
            .iter()
            .filter_map(|v| parse_authorization(v).ok())
            .filter(|c| c.realm == self.realm)
            .collect();
        ours.sort_by_key(|c| c.algorithm != Algorithm::Sha256);
        let Some(creds) = ours.into_iter().next() else {
            return self.challenge(now, false);
        };
        // Nonce before user lookup: a forged or stale nonce says nothing about the user.
        match self.issuer.check(&creds.nonce, self.wall_secs(now)) {
            NonceCheck::Valid => {}
            NonceCheck::Stale => return self.challenge(now, true),
            NonceCheck::Invalid => return self.challenge(now, false),
        }
        let known = self.accounts.get(&creds.username);
        let account = known.unwrap_or(&self.dummy);
        let ha1 = match creds.algorithm {
            Algorithm::Sha256 => &account.ha1_sha256,
            Algorithm::Md5 => &account.ha1_md5,
        };
        // Always verify, so unknown users and locked accounts cost the same work.
        let verified = verify(&creds, method, ha1);
        let locked = self
            .locks
            .get(&creds.username)
            .is_some_and(|s| s.banned(now));
        let reason = match (known, verified, locked) {
            // We offer qop=auth only; the RFC 2069 form would have no replay protection.
            _ if creds.qop.is_none() => "no_qop",
            (None, _, _) => "unknown_user",
            (Some(_), false, _) => "wrong_password",
            (Some(_), true, true) => "account_locked",
            (Some(a), true, false) => {
                let ok = AuthOutcome::Ok {
                    extension: a.extension.clone(),
                    agent_id: a.agent_id.clone(),
                };
                // A replayed nc is a retransmission or a capture, not a wrong password.
                if !self.counts.accept(&creds.nonce, creds.nc.unwrap_or(0)) {
                    return self.challenge(now, false);
                }
                self.sources.remove(&source);
                return ok;
            }
        };
        // `?`: the user name is the client's, so it is quoted and escaped in the log line.
        tracing::warn!(target: "hotline::security", event = "auth_failure", source = %source,
            user = ?creds.username, method = ?method, reason);
        // A correct password on a locked account is the owner, not an attacker: neither
        // the source nor the account is charged for it. Only real accounts are tracked,
        // so a spray of made-up names cannot grow memory.
        if reason != "account_locked" {
            let account = known.map(|a| a.extension.clone());
            self.strike(now, source, account);
        }
        AuthOutcome::Forbidden
    }

    /// Counts a failure against the source and the account; bans at the limits.
    fn strike(&mut self, now: Instant, source: IpAddr, account: Option<String>) {
        if self.sources.len() >= self.policy.max_sources && !self.sources.contains_key(&source) {
            self.prune(now);
        }
        let p = &self.policy;
        if self.sources.len() < p.max_sources || self.sources.contains_key(&source) {
            let s = self.sources.entry(source).or_insert_with(|| fresh(now));
            if s.fail(now, p.source_max_failures, p.source_window, p.source_ban) {
                tracing::warn!(target: "hotline::security", event = "source_banned",
                    source = %source, ban_secs = p.source_ban.as_secs());
            }
        }
        if let Some(user) = account {
            let s = self.locks.entry(user.clone()).or_insert_with(|| fresh(now));
            if s.fail(
                now,
                p.account_max_failures,
                p.account_window,
                p.account_lock,
            ) {
                tracing::warn!(target: "hotline::security", event = "account_locked",
                    source = %source, user = ?user, lock_secs = p.account_lock.as_secs());
            }
        }
    }

    fn challenge(&mut self, now: Instant, stale: bool) -> AuthOutcome {
        let rand = self.next_rand();
        let nonce = self.issuer.issue(self.wall_secs(now), rand);
        let headers = challenge(&self.realm, &nonce, stale)
            .into_iter()
            .map(|v| ("WWW-Authenticate".to_string(), v))
            .collect();
        AuthOutcome::Challenge { headers }
    }

    fn wall_secs(&self, now: Instant) -> u64 {
        self.epoch.1 + now.saturating_duration_since(self.epoch.0).as_secs()
    }

    /// splitmix64: nonces only need to be distinct, the MAC makes them unforgeable.
    fn next_rand(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Forgets failure windows and bans that are over.
    pub fn prune(&mut self, now: Instant) {
        self.sources.retain(|_, s| s.end() > now);
        self.locks.retain(|_, s| s.end() > now);
    }

    /// When `prune` next has something to forget.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sources
            .values()
            .chain(self.locks.values())
            .map(Strikes::end)
            .min()
    }

    /// Source addresses and accounts with failures or bans on record.
    pub fn tracked(&self) -> usize {
        self.sources.len() + self.locks.len()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// As stored in `registrations.transport`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// The parts of an authenticated REGISTER the registrar needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRequest {
    /// Raw Contact header values; none makes the request a query.
    pub contacts: Vec<String>,
    pub expires_header: Option<u32>,
    pub call_id: String,
    pub cseq: u32,
    pub source: SocketAddr,
    pub transport: Transport,
}

/// Where an agent's phone can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub extension: String,
    /// The Contact URI as registered (without angle brackets); compared byte for byte.
    pub uri: String,
    /// Where the REGISTER came from: requests go there, which gets through NAT.
    pub source: SocketAddr,
    pub transport: Transport,
    pub expires_at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Expires 0, or `*`.
    Unregistered,
    Expired,
    /// An OPTIONS ping went unanswered.
    Dead,
    AccountRemoved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Refreshed,
    Removed(Removal),
}

/// One binding change, to persist; `reachable` says whether the agent still has any
/// binding afterwards, so the queue learns when an agent comes and goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub agent_id: String,
    pub binding: Binding,
    pub reachable: bool,
}

/// A REGISTER that succeeded: answer 200 with these Contact values (RFC 3261 10.3 step 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// `<uri>;expires=remaining`, one per current binding.
    pub contacts: Vec<String>,
    pub changes: Vec<Change>,
}

/// Why a REGISTER was refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("malformed Contact {0:?}")]
    BadContact(String),
    #[error("Contact * needs Expires: 0 and no other Contact")]
    BadWildcard,
    #[error("expiration shorter than {min_expires} s")]
    IntervalTooBrief { min_expires: u32 },
    #[error("CSeq {cseq} not above the binding's for Call-ID {call_id:?}")]
    OutOfOrder { call_id: String, cseq: u32 },
    #[error("more than {max} contacts")]
    TooManyContacts { max: usize },
    #[error("no account {0:?}")]
    UnknownExtension(String),
}

impl RegisterError {
    pub fn status(&self) -> u16 {
        match self {
            RegisterError::BadContact(_) | RegisterError::BadWildcard => 400,
            RegisterError::IntervalTooBrief { .. } => 423,
            // RFC 3261 10.3 step 7.
            RegisterError::OutOfOrder { .. } => 500,
            RegisterError::TooManyContacts { .. } | RegisterError::UnknownExtension(_) => 403,
        }
    }

    pub fn headers(&self) -> Vec<(String, String)> {
        match self {
            RegisterError::IntervalTooBrief { min_expires } => {
                vec![("Min-Expires".to_string(), min_expires.to_string())]
            }
            _ => vec![],
        }
    }
}

pub type RegisterOutcome = Result<Registered, RegisterError>;

/// Binding lifetimes in seconds, and how many phones one agent may register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarPolicy {
    pub default_expires: u32,
    pub min_expires: u32,
    pub max_expires: u32,
    pub max_bindings: usize,
}

impl Default for RegistrarPolicy {
    fn default() -> Self {
        RegistrarPolicy {
            default_expires: 3600,
            min_expires: 60,
            max_expires: 3600,
            max_bindings: 8,
        }
    }
}

/// A binding plus the Call-ID/CSeq that last touched it, for the ordering check.
#[derive(Debug, Clone)]
struct Entry {
    binding: Binding,
    call_id: String,
    cseq: u32,
}

/// The location service for agents' phones, with the authenticator guarding it.
#[derive(Debug)]
pub struct Registrar {
    auth: Authenticator,
    policy: RegistrarPolicy,
    bindings: HashMap<String, Vec<Entry>>,
}

impl Registrar {
    pub fn new(auth: Authenticator, policy: RegistrarPolicy) -> Self {
        Registrar {
            auth,
            policy,
            bindings: HashMap::new(),
        }
    }

    pub fn auth(&self) -> &Authenticator {
        &self.auth
    }

    pub fn authenticate(
        &mut self,
        now: Instant,
        source: IpAddr,
        method: &str,
        authorization: &[&str],
    ) -> AuthOutcome {
        self.auth.authenticate(now, source, method, authorization)
    }

    /// Replaces the accounts; bindings of accounts no longer there are dropped.
    pub fn set_accounts(&mut self, accounts: Vec<Account>) -> Vec<Change> {
        let keep: HashSet<&str> = accounts.iter().map(|a| a.extension.as_str()).collect();
        // Before the swap, so the changes still carry the old agent IDs.
        let changes = self.remove_where(Removal::AccountRemoved, |b| {
            !keep.contains(b.extension.as_str())
        });
        self.auth.set_accounts(accounts);
        changes
    }

    /// Applies an authenticated REGISTER for `extension` (RFC 3261 10.3 steps 5-8): all
    /// of it or, on error, none of it.
    pub fn register(
        &mut self,
        now: Instant,
        extension: &str,
        req: RegisterRequest,
    ) -> RegisterOutcome {
        let agent_id = match self.auth.account(extension) {
            Some(a) => a.agent_id.clone(),
            None => return Err(RegisterError::UnknownExtension(extension.to_string())),
        };
        let mut wanted = Vec::new();
        for value in &req.contacts {
            for element in split_unquoted(value, ',') {
                wanted.push(parse_contact(element)?);
            }
        }
        let current = self.bindings.get(extension).map_or(&[][..], Vec::as_slice);
        let out_of_order = |e: &Entry| e.call_id == req.call_id && req.cseq <= e.cseq;
        let order_error = || RegisterError::OutOfOrder {
            call_id: req.call_id.clone(),
            cseq: req.cseq,
        };
        let p = &self.policy;
        let mut plan = Vec::new();
        if wanted.iter().any(|c| c.is_none()) {
            if wanted.len() != 1 || req.expires_header != Some(0) {
                return Err(RegisterError::BadWildcard);
            }
            if current.iter().any(out_of_order) {
                return Err(order_error());
            }
            plan.extend(current.iter().map(|e| (e.binding.uri.clone(), 0)));
        }
        for (uri, expires) in wanted.into_iter().flatten() {
            let secs = expires.or(req.expires_header).unwrap_or(p.default_expires);
            if secs != 0 && secs < p.min_expires {
                let min_expires = p.min_expires;
                return Err(RegisterError::IntervalTooBrief { min_expires });
            }
            if current
                .iter()
                .any(|e| e.binding.uri == uri && out_of_order(e))
            {
                return Err(order_error());
            }
            plan.push((uri, secs.min(p.max_expires)));
        }
        // Applied to a copy, committed only once every check has passed.
        let mut next = current.to_vec();
        let mut changes = Vec::new();
        let change = |kind, binding, reachable| Change {
            kind,
            agent_id: agent_id.clone(),
            binding,
            reachable,
        };
        for (uri, secs) in plan {
            let pos = next.iter().position(|e| e.binding.uri == uri);
            if secs == 0 {
                if let Some(i) = pos {
                    let binding = next.remove(i).binding;
                    let kind = ChangeKind::Removed(Removal::Unregistered);
                    changes.push(change(kind, binding, !next.is_empty()));
                }
                continue;
            }
            let binding = Binding {
                extension: extension.to_string(),
                uri,
                source: req.source,
                transport: req.transport,
                expires_at: now + Duration::from_secs(secs.into()),
            };
            let kind = match pos {
                Some(_) => ChangeKind::Refreshed,
                None => ChangeKind::Added,
            };
            changes.push(change(kind, binding.clone(), true));
            let entry = Entry {
                binding,
                call_id: req.call_id.clone(),
                cseq: req.cseq,
            };
            match pos {
                Some(i) => next[i] = entry,
                None => next.push(entry),
            }
        }
        if next.len() > p.max_bindings && next.len() > current.len() {
            return Err(RegisterError::TooManyContacts {
                max: p.max_bindings,
            });
        }
        let contacts = next
            .iter()
            .map(|e| contact_value(&e.binding, now))
            .collect();
        if next.is_empty() {
            self.bindings.remove(extension);
        } else {
            self.bindings.insert(extension.to_string(), next);
        }
        Ok(Registered { contacts, changes })
    }

    /// Removes bindings whose time is up, and forgets old authentication failures.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Change> {
        self.auth.prune(now);
        self.remove_where(Removal::Expired, |b| b.expires_at <= now)
    }

    /// When `expire` next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let bindings = self
            .bindings
            .values()
            .flatten()
            .map(|e| e.binding.expires_at);
        bindings.chain(self.auth.poll_timeout()).min()
    }

    pub fn contacts(&self, extension: &str) -> Vec<Binding> {
        let entries = self.bindings.get(extension).map_or(&[][..], Vec::as_slice);
        entries.iter().map(|e| e.binding.clone()).collect()
    }

    /// Loads bindings saved before a restart; returns those of unknown accounts, which
    /// were not taken (delete them). Expired ones go at the next `expire`.
    pub fn restore(&mut self, bindings: Vec<Binding>) -> Vec<Binding> {
        let mut rejected = Vec::new();
        for binding in bindings {
            if self.auth.account(&binding.extension).is_none() {
                rejected.push(binding);
                continue;
            }
            let entries = self.bindings.entry(binding.extension.clone()).or_default();
            entries.retain(|e| e.binding.uri != binding.uri);
            // No Call-ID survives a restart: any next REGISTER is in order.
            entries.push(Entry {
                binding,
                call_id: String::new(),
                cseq: 0,
            });
        }
        rejected
    }

    /// Drops a binding whose OPTIONS ping went unanswered.
    pub fn mark_dead(&mut self, extension: &str, contact: &str) -> Option<Change> {
        let dead = |b: &Binding| b.extension == extension && b.uri == contact;
        self.remove_where(Removal::Dead, dead).pop()
    }

    fn remove_where(&mut self, why: Removal, gone: impl Fn(&Binding) -> bool) -> Vec<Change> {
        let mut changes = Vec::new();
        self.bindings.retain(|ext, entries| {
            let agent_id = self.auth.account(ext).map(|a| a.agent_id.clone());
            let mut i = 0;
            while i < entries.len() {
                if !gone(&entries[i].binding) {
                    i += 1;
                    continue;
                }
                let binding = entries.remove(i).binding;
                changes.push(Change {
                    kind: ChangeKind::Removed(why),
                    agent_id: agent_id.clone().unwrap_or_default(),
                    binding,
                    reachable: !entries.is_empty(),
                });
            }
            !entries.is_empty()
        });
        changes
    }
}

fn contact_value(b: &Binding, now: Instant) -> String {
    let left = b.expires_at.saturating_duration_since(now).as_secs();
    format!("<{}>;expires={left}", b.uri)
}

/// Splits at `sep` outside quoted strings and angle brackets; empty pieces dropped.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let (mut out, mut start) = (Vec::new(), 0);
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            c if c == sep && !quoted && !angle => {
                out.push(s[start..i].trim());
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out.retain(|p| !p.is_empty());
    out
}

/// Position of `ch` outside quoted strings (a display name may hold `<`).
fn find_unquoted(s: &str, ch: char) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == ch && !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// One Contact element: `None` for `*`, else the URI and its `expires` parameter.
fn parse_contact(s: &str) -> Result<Option<(String, Option<u32>)>, RegisterError> {
    if s == "*" {
        return Ok(None);
    }
    let bad = || RegisterError::BadContact(s.to_string());
    let (uri, params) = match find_unquoted(s, '<') {
        Some(open) => {
            let rest = &s[open + 1..];
            let close = rest.find('>').ok_or_else(bad)?;
            (&rest[..close], &rest[close + 1..])
        }
        // Without brackets, everything after the first `;` is a header parameter.
        None => s.split_at(s.find(';').unwrap_or(s.len())),
    };
    let uri = uri.trim();
    let scheme = uri.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("sip" | "sips")) || uri.contains(char::is_whitespace) {
        return Err(bad());
    }
    let mut expires = None;
    for param in split_unquoted(params, ';') {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        if name.trim().eq_ignore_ascii_case("expires") {
            // Malformed counts as 3600, past 32 bits as the most (RFC 3261 20.19).
            let v = value.trim().parse::<u64>().ok();
            expires = Some(v.map_or(3600, |v| u32::try_from(v).unwrap_or(u32::MAX)));
        }
    }
    Ok(Some((uri.to_string(), expires)))
}
