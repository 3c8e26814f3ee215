//! Registering hotline with a SIP trunk (RFC 3261 10.2), sans-IO: the owner asks
//! [`Registration::handle_timeout`] for the REGISTER that is due, sends it with
//! [`Endpoint::register`](super::endpoint::Endpoint::register), and feeds the outcome
//! (`Event::RequestDone`) to [`Registration::on_response`]. Time only comes in as
//! `Instant`s, so the refresh and backoff schedule is tested on a fake clock.

use super::auth::{authorization, best_challenge, Challenge};
use rand::{rngs::StdRng, Rng, SeedableRng};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// The first wait after a failed REGISTER; doubled after each further failure.
const BACKOFF_FIRST: Duration = Duration::from_secs(30);
/// Trunks that are down for long are still retried this often.
const BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);
/// The longest Min-Expires a registrar may ask for before a 423 counts as a failure.
const MAX_EXPIRES_SECS: u32 = 86_400;

/// A refresh is sent at least this long before the binding expires, so a slow answer
/// does not leave us unregistered.
const REFRESH_MARGIN_SECS: u32 = 5;

/// Who we register as, and where.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistrationConfig {
    pub user: String,
    pub password: String,
    /// The registrar's host[:port]; the Request-URI is `sip:domain` and our
    /// address-of-record `sip:user@domain`.
    pub domain: String,
    /// The binding lifetime we ask for.
    pub expires_secs: u32,
}

impl std::fmt::Debug for RegistrationConfig {
    // Keeps the password out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationConfig")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("domain", &self.domain)
            .field("expires_secs", &self.expires_secs)
            .finish()
    }
}

/// Where the registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegState {
    /// Nothing sent yet.
    Unregistered,
    /// A REGISTER is on its way and we hold no binding.
    Registering,
    /// The registrar holds our binding until `until` (a refresh may be in flight).
    Registered { until: Instant },
    /// The last REGISTER failed (`status: None` when nothing answered); the next one
    /// goes at `retry_at`.
    Failed {
        retry_at: Instant,
        status: Option<u16>,
    },
}

/// A REGISTER to send now; the rest of it comes from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRequest {
    /// Increases with every REGISTER of the registration (RFC 3261 10.2.4).
    pub cseq: u32,
    /// (`Authorization` or `Proxy-Authorization`, value) answering the last challenge.
    pub authorization: Option<(&'static str, String)>,
    pub expires: u32,
}

/// The challenge we answer with; reused on refreshes with the next nonce count, which
/// spares the registrar a 401 round trip each time (RFC 3261 22.3).
#[derive(Debug, Clone)]
struct Cached {
    challenge: Challenge,
    proxy: bool,
    nc: u32,
}

/// One registration with one registrar: refreshes, challenges and retries.
pub struct Registration {
    cfg: RegistrationConfig,
    call_id: String,
    from_tag: String,
    cseq: u32,
    state: RegState,
    /// When the next REGISTER is due; `None` while one is in flight.
    due: Option<Instant>,
    /// Failures in a row, for the backoff.
    failures: u32,
    creds: Option<Cached>,
    /// The nonce the REGISTER in flight answered, if any.
    sent_nonce: Option<String>,
    /// The registrar's Min-Expires, once it refused a shorter lifetime (423).
    min_expires: Option<u32>,
    /// The binding is being taken back (REGISTER with Expires: 0): no more refreshes.
    leaving: bool,
    /// In this attempt, a fresh (resp. stale) challenge was answered already.
    answered_fresh: bool,
    answered_stale: bool,
    /// For cnonces.
    rng: StdRng,
}

impl std::fmt::Debug for Registration {
    // The configuration's own Debug redacts the password; the rng and cached challenge
    // are noise.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("cfg", &self.cfg)
            .field("call_id", &self.call_id)
            .field("cseq", &self.cseq)
            .field("state", &self.state)
            .field("due", &self.due)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// `call_id` and `from_tag` should be random and are kept for the registration's
    /// life (RFC 3261 10.2.4). The first REGISTER is due at `now`.
    pub fn new(cfg: RegistrationConfig, call_id: String, from_tag: String, now: Instant) -> Self {
        // Sans-IO, so no entropy source: the cnonces come from a generator seeded with
        // the owner's random Call-ID and tag and the password, which keeps them unique
        // per registration and unguessable to anyone who could not answer anyway.
        let mut h = Sha256::new();
        for part in [
            cfg.password.as_bytes(),
            call_id.as_bytes(),
            from_tag.as_bytes(),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        let rng = StdRng::from_seed(h.finalize().into());
        Registration {
            cfg,
            call_id,
            from_tag,
            cseq: 0,
            state: RegState::Unregistered,
            due: Some(now),
            failures: 0,
            min_expires: None,
            leaving: false,
            creds: None,
            sent_nonce: None,
            answered_fresh: false,
            answered_stale: false,
            rng,
        }
    }

    pub fn config(&self) -> &RegistrationConfig {
        &self.cfg
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    pub fn from_tag(&self) -> &str {
        &self.from_tag
    }

    pub fn state(&self) -> RegState {
        self.state
    }

    /// When [`handle_timeout`](Self::handle_timeout) has a REGISTER to send; `None`
    /// while one is in flight (its outcome comes through `on_response`).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.due
    }

    /// The REGISTER to send now, if one is due (first, refresh or retry).
    pub fn handle_timeout(&mut self, now: Instant) -> Option<RegisterRequest> {
        if self.due.is_none_or(|t| t > now) {
            return None;
        }
        self.due = None;
        self.answered_fresh = false;
        self.answered_stale = false;
        if !matches!(self.state, RegState::Registered { .. }) {
            self.state = RegState::Registering;
        }
        Some(self.request())
    }

    /// Takes the binding back at shutdown (RFC 3261 10.2.2, Expires: 0), so the registrar
    /// stops sending calls to a hotline that is gone: the REGISTER to send now, if the
    /// binding is up and no REGISTER is in flight. Nothing is sent again afterwards.
    pub fn unregister(&mut self) -> Option<RegisterRequest> {
        if self.leaving || self.due.is_none() {
            return None;
        }
        self.leaving = true;
        self.due = None;
        if !matches!(self.state, RegState::Registered { .. }) {
            return None;
        }
        self.answered_fresh = false;
        self.answered_stale = false;
        Some(self.request())
    }

    /// The final outcome of the REGISTER in flight: `status` is `None` when nothing
    /// answered; `challenges` are the WWW-Authenticate (or, with `proxy`,
    /// Proxy-Authenticate) values; `expires` is the lifetime the registrar granted (on a
    /// 423, its Min-Expires). Returns the REGISTER that answers a challenge or asks for
    /// the longer lifetime a 423 wants (RFC 3261 10.2.8), to be sent at once.
    pub fn on_response(
        &mut self,
        now: Instant,
        status: Option<u16>,
        challenges: &[String],
        expires: Option<u32>,
        proxy: bool,
    ) -> Option<RegisterRequest> {
        if self.due.is_some() {
            return None; // nothing in flight: a late answer to an abandoned REGISTER
        }
        if self.leaving {
            // Taking the binding back: a challenge is answered as ever; any other end
            // leaves it gone (or to run out) and nothing more is sent.
            let again = match status {
                Some(100..=199) => return None,
                Some(401 | 407) => {
                    let r = self.on_challenge(now, status, challenges, proxy);
                    self.due = None;
                    r
                }
                _ => None,
            };
            if again.is_none() {
                self.state = RegState::Unregistered;
            }
            return again;
        }
        match status {
            None => self.fail(now, None),
            Some(100..=199) => None,
            Some(200..=299) => {
                let granted = expires.unwrap_or(self.cfg.expires_secs);
                if granted == 0 {
                    return self.fail(now, status);
                }
                let until = now + Duration::from_secs(granted.into());
                let wait = (granted / 2)
                    .min(granted.saturating_sub(REFRESH_MARGIN_SECS))
                    .max(1);
                self.state = RegState::Registered { until };
                self.due = Some(now + Duration::from_secs(wait.into()));
                self.failures = 0;
                self.sent_nonce = None;
                None
            }
            Some(401 | 407) => self.on_challenge(now, status, challenges, proxy),
            Some(423) => match expires {
                // Once per lifetime asked: a registrar that refuses its own minimum is
                // failing, not negotiating.
                Some(min) if min > self.asked_expires() && min <= MAX_EXPIRES_SECS => {
                    self.min_expires = Some(min);
                    Some(self.request())
                }
                _ => self.fail(now, status),
            },
            Some(_) => self.fail(now, status),
        }
    }

    /// A 401 or 407: the REGISTER that answers it, or a failure if it may not be answered.
    fn on_challenge(
        &mut self,
        now: Instant,
        status: Option<u16>,
        challenges: &[String],
        proxy: bool,
    ) -> Option<RegisterRequest> {
        let ch = best_challenge(challenges.iter().map(String::as_str));
        match ch.filter(|ch| self.may_answer(ch)) {
            Some(ch) => {
                if ch.stale {
                    self.answered_stale = true;
                } else {
                    self.answered_fresh = true;
                }
                self.creds = Some(Cached {
                    challenge: ch,
                    proxy: proxy || status == Some(407),
                    nc: 0,
                });
                Some(self.request())
            }
            None => {
                // Wrong credentials or an unusable challenge: asking again with
                // the same ones would only be refused again.
                self.creds = None;
                self.fail(now, status)
            }
        }
    }

    /// The lifetime each REGISTER asks for: ours, or the registrar's minimum if longer;
    /// none when taking the binding back.
    fn asked_expires(&self) -> u32 {
        if self.leaving {
            return 0;
        }
        self.cfg.expires_secs.max(self.min_expires.unwrap_or(0))
    }

    /// A challenge is answered once per attempt, and never again for a nonce our
    /// credentials were just refused with, unless the registrar says the nonce only
    /// went stale (then once more).
    fn may_answer(&self, ch: &Challenge) -> bool {
        if ch.stale {
            return !self.answered_stale;
        }
        !self.answered_fresh && self.sent_nonce.as_deref() != Some(ch.nonce.as_str())
    }

    fn request(&mut self) -> RegisterRequest {
        self.cseq += 1;
        let uri = format!("sip:{}", self.cfg.domain);
        let cnonce = format!("{:016x}", self.rng.gen::<u64>());
        let authorization = self.creds.as_mut().map(|c| {
            c.nc += 1;
            let name = if c.proxy {
                "Proxy-Authorization"
            } else {
                "Authorization"
            };
            let value = authorization(
                &c.challenge,
                &self.cfg.user,
                &self.cfg.password,
                "REGISTER",
                &uri,
                &cnonce,
                c.nc,
            );
            (name, value)
        });
        self.sent_nonce = self.creds.as_ref().map(|c| c.challenge.nonce.clone());
        RegisterRequest {
            cseq: self.cseq,
            authorization,
            expires: self.asked_expires(),
        }
    }

    /// Schedules the retry: 30 s, 60 s, 120 s ... up to 15 min.
    fn fail(&mut self, now: Instant, status: Option<u16>) -> Option<RegisterRequest> {
        self.failures = self.failures.saturating_add(1);
        let doublings = (self.failures - 1).min(16);
        let wait = (BACKOFF_FIRST * (1u32 << doublings)).min(BACKOFF_MAX);
        let retry_at = now + wait;
        self.state = RegState::Failed { retry_at, status };
        self.due = Some(retry_at);
        self.sent_nonce = None;
        None
    }
}
