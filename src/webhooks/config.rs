//! `webhooks.toml`: where to post which events, and the secret that signs them. Read and
//! checked here (`hotline check` and `serve` refuse a bad file with its line and the
//! reason); a missing file means no webhooks.
//!
//! ```toml
//! [[webhooks]]
//! name = "crm"                                   # in logs and the outbox; unique
//! url = "https://crm.example.com/hotline/events" # http:// or https://
//! events = ["call.ended", "followup.changed"]
//! secret = "a long random string"                # signs each body; 16 characters or more
//! timeout_secs = 10                              # optional: a slower answer is a failure
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::store::WebhookEvent;

/// Shortest secret accepted: a guessable one would let anyone forge events.
const MIN_SECRET: usize = 16;

/// One receiver, as configured.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Its name, unique in the file: logs and the outbox name it, never its URL.
    pub name: String,
    /// Where events are posted.
    pub url: hyper::Uri,
    /// What it is told about.
    pub events: Vec<WebhookEvent>,
    /// The HMAC-SHA256 key of `X-Hotline-Signature`.
    pub secret: String,
    /// An answer slower than this counts as a failure (and is retried).
    pub timeout: Duration,
}

impl Webhook {
    /// Whether it wants `event`.
    pub fn wants(&self, event: WebhookEvent) -> bool {
        self.events.contains(&event)
    }
}

/// The secret never shows, nor what may follow the host in the URL (a token in the path or
/// query).
impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = format!(
            "{}://{}/...",
            self.url.scheme_str().unwrap_or("?"),
            self.url.host().unwrap_or("?")
        );
        f.debug_struct("Webhook")
            .field("name", &self.name)
            .field("url", &url)
            .field("events", &self.events)
            .field("secret", &"****")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Why `webhooks.toml` was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhooksError {
    /// The file exists but cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A mistake in the file, at a line (1-based).
    #[error("{}:{line}: {reason}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    webhooks: Vec<Raw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: Spanned<String>,
    url: Spanned<String>,
    events: Spanned<Vec<Spanned<String>>>,
    secret: Spanned<String>,
    timeout_secs: Option<Spanned<u64>>,
}

/// The webhooks in the file at `path`; none if there is no file.
pub fn load(path: &Path) -> Result<Vec<Webhook>, WebhooksError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
        Err(source) => Err(WebhooksError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Parses and checks `text`, the file at `path` (named in errors).
pub fn parse(path: &Path, text: &str) -> Result<Vec<Webhook>, WebhooksError> {
    let at = |offset: usize, reason: String| WebhooksError::Invalid {
        path: path.to_path_buf(),
        line: text[..offset.min(text.len())].matches('\n').count() + 1,
        reason,
    };
    let file: File = toml::from_str(text).map_err(|e: toml::de::Error| {
        let offset = e.span().map_or(0, |s| s.start);
        at(offset, e.message().trim().to_string())
    })?;
    let mut hooks: Vec<Webhook> = Vec::new();
    for raw in file.webhooks {
        let name = raw.name.get_ref().trim().to_string();
        let named = |reason: &str| format!("webhook {name:?}: {reason}");
        let fine_name = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !fine_name {
            return Err(at(
                raw.name.span().start,
                format!("webhook name {name:?}: 1 to 64 letters, digits, '.', '_' or '-'"),
            ));
        }
        if hooks.iter().any(|h| h.name == name) {
            return Err(at(raw.name.span().start, named("the name is used twice")));
        }
        let url = check_url(raw.url.get_ref()).map_err(|r| at(raw.url.span().start, named(&r)))?;
        let mut events = Vec::new();
        for e in raw.events.get_ref() {
            let event: WebhookEvent = e
                .get_ref()
                .parse()
                .map_err(|r: String| at(e.span().start, named(&r)))?;
            if events.contains(&event) {
                return Err(at(
                    e.span().start,
                    named(&format!("{event} is listed twice")),
                ));
            }
            events.push(event);
        }
        if events.is_empty() {
            return Err(at(
                raw.events.span().start,
                named("events is empty: list call.ended, followup.changed or both"),
            ));
        }
        // The secret's value is never part of a message.
        if raw.secret.get_ref().chars().count() < MIN_SECRET {
            return Err(at(
                raw.secret.span().start,
                named(&format!(
                    "the secret must be {MIN_SECRET} characters or more"
                )),
            ));
        }
        let timeout = match &raw.timeout_secs {
            None => Duration::from_secs(10),
            Some(t) if (1..=120).contains(t.get_ref()) => Duration::from_secs(*t.get_ref()),
            Some(t) => return Err(at(t.span().start, named("timeout_secs is 1 to 120"))),
        };
        hooks.push(Webhook {
            name,
            url,
            events,
            secret: raw.secret.into_inner(),
            timeout,
        });
    }
    Ok(hooks)
}

/// An `http://` or `https://` URL with a host.
fn check_url(text: &str) -> Result<hyper::Uri, String> {
    let bad = || "url must be http://HOST[:PORT]/PATH or https://...".to_string();
    let uri: hyper::Uri = text.trim().parse().map_err(|_| bad())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[webhooks]]
name = "crm"
url = "https://crm.example.com/hotline?token=abc"
events = ["call.ended", "followup.changed"]
secret = "0123456789abcdef-very-secret"

[[webhooks]]
name = "tickets"
url = "http://127.0.0.1:9000/in"
events = ["followup.changed"]
secret = "another-secret-of-length"
timeout_secs = 3
"#;

    fn err(text: &str) -> String {
        parse(Path::new("webhooks.toml"), text)
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn a_good_file_parses_and_debug_hides_the_secret_and_the_query() {
        let hooks = parse(Path::new("webhooks.toml"), GOOD).unwrap();
        assert_eq!(hooks.len(), 2);
        assert!(hooks[0].wants(WebhookEvent::CallEnded));
        assert!(!hooks[1].wants(WebhookEvent::CallEnded));
        assert_eq!(hooks[1].timeout, Duration::from_secs(3));
        assert_eq!(hooks[0].timeout, Duration::from_secs(10));
        let shown = format!("{hooks:?}");
        assert!(
            !shown.contains("very-secret") && !shown.contains("token=abc"),
            "{shown}"
        );
        assert!(shown.contains("crm.example.com"), "{shown}");
    }

    #[test]
    fn mistakes_are_refused_with_their_line_and_never_the_secret() {
        let cases = [
            (
                GOOD.replace("\"call.ended\", ", "\"call.end\", "),
                5,
                "unknown event",
            ),
            (GOOD.replace("https://crm", "ftp://crm"), 4, "url must be"),
            (GOOD.replace("\"tickets\"", "\"crm\""), 9, "used twice"),
            (
                GOOD.replace("0123456789abcdef-very-secret", "short"),
                6,
                "16 characters",
            ),
            (
                GOOD.replace("timeout_secs = 3", "timeout_secs = 0"),
                13,
                "1 to 120",
            ),
            (GOOD.replace("timeout_secs", "timeout"), 13, "unknown field"),
            (
                GOOD.replace("[\"followup.changed\"]", "[]"),
                11,
                "events is empty",
            ),
            (
                GOOD.replace("name = \"crm\"", "name = \"c r m\""),
                3,
                "webhook name",
            ),
        ];
        for (text, line, words) in cases {
            let e = err(&text);
            assert!(e.starts_with(&format!("webhooks.toml:{line}: ")), "{e}");
            assert!(e.contains(words), "{e}");
            assert!(!e.contains("very-secret") && !e.contains("short"), "{e}");
        }
    }

    #[test]
    fn no_file_is_no_webhooks_and_an_empty_file_too() {
        assert!(load(Path::new("/nonexistent/webhooks.toml"))
            .unwrap()
            .is_empty());
        assert!(parse(Path::new("w.toml"), "").unwrap().is_empty());
    }
}
