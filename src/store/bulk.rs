//! PostgreSQL: consecutive call-record writes go as one `UNNEST` statement per kind instead of
//! one round trip per write, so the writer keeps up with thousands of calls a second. The
//! kinds are the writes nearly every call makes (arrival, answer, IVR columns, RTP counts,
//! end, events); any other write flushes the run and then runs alone (`Store::apply`).
//!
//! A run holds at most one write per kind and row (call, or call and event `seq`): a write
//! that would repeat one, or an arrival for a call the run already touches, flushes the run
//! first. So no statement sees an id twice (`UPDATE … FROM` with duplicate ids is undefined),
//! and the outcome is that of applying the writes one by one: the first answer, end and
//! event of a `seq` win, later IVR fields and RTP counts replace earlier ones.

use std::collections::HashSet;

use sqlx::PgConnection;

use super::{note_no_effect, AgentWrite, StoreError, Write};

// The UNNEST columns are named apart from the `calls` columns the shared SET clauses read.
const INSERT_CALLS: &str = concat!(
    insert_call!(
        "SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::bigint[])"
    ),
    " RETURNING id"
);

const ANSWER_CALLS: &str = concat!(
    answer_call!("u.at"),
    " FROM UNNEST($1::text[], $2::bigint[]) AS u(id, at) WHERE calls.id = u.id RETURNING calls.id"
);

const END_CALLS: &str = concat!(
    end_call!("u.at", "u.who", "u.cause", "u.status"),
    " FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::int[]) \
     AS u(id, at, who, cause, status) WHERE calls.id = u.id RETURNING calls.id"
);

const SET_CALLS_IVR: &str = concat!(
    set_call_ivr!("u.lang", "u.cust", "u.verif", "u.outc", "u.que", "u.prio"),
    " FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bool[], $5::text[], $6::text[], \
     $7::int[]) AS u(id, lang, cust, verif, outc, que, prio) \
     WHERE calls.id = u.id RETURNING calls.id"
);

const SET_CALLS_RTP: &str = concat!(
    set_call_rtp!("u.received", "u.sent"),
    " FROM UNNEST($1::text[], $2::bigint[], $3::bigint[]) AS u(id, received, sent) \
     WHERE calls.id = u.id"
);

const INSERT_EVENTS: &str = concat!(
    insert_event!(
        "SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[])"
    ),
    " RETURNING call_id, seq"
);

/// The kinds of write a run takes, in the order a run is flushed: arrivals first, since the
/// others need the call's row.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Arrival,
    Answer,
    Ivr,
    Rtp,
    End,
    Event,
}

const KINDS: [Kind; 6] = [
    Kind::Arrival,
    Kind::Answer,
    Kind::Ivr,
    Kind::Rtp,
    Kind::End,
    Kind::Event,
];

fn kind(w: &Write) -> Option<Kind> {
    Some(match w {
        Write::CallArrived { .. } => Kind::Arrival,
        Write::CallAnswered { .. } => Kind::Answer,
        Write::CallIvr { .. } => Kind::Ivr,
        Write::Agent(AgentWrite::CallRtp { .. }) => Kind::Rtp,
        Write::CallEnded { .. } => Kind::End,
        Write::CallEvent { .. } => Kind::Event,
        _ => return None,
    })
}

/// The row a write is about: its call, and the event's `seq` (0 for the others).
fn key(w: &Write) -> (&str, i64) {
    match w {
        Write::CallEvent { id, seq, .. } => (id, *seq),
        _ => (w.call_id(), 0),
    }
}

/// Call-record writes waiting to go as one statement per kind.
#[derive(Default)]
pub(super) struct Run<'a> {
    /// By kind, in [`KINDS`] order.
    writes: [Vec<&'a Write>; KINDS.len()],
    /// Every call some pending write is about.
    calls: HashSet<&'a str>,
    /// Every pending (kind, row).
    rows: HashSet<(Kind, &'a str, i64)>,
}

impl<'a> Run<'a> {
    /// Takes `w` into the run, flushing the run first if `w` must come after a pending
    /// write (see the module doc); false, and nothing done, if `w` is not a record write.
    pub(super) async fn push(
        &mut self,
        conn: &mut PgConnection,
        w: &'a Write,
    ) -> Result<bool, StoreError> {
        let Some(kind) = kind(w) else {
            return Ok(false);
        };
        let (id, seq) = key(w);
        let repeats = match kind {
            Kind::Arrival => self.calls.contains(id),
            _ => self.rows.contains(&(kind, id, seq)),
        };
        if repeats {
            self.flush(conn).await?;
        }
        self.calls.insert(id);
        self.rows.insert((kind, id, seq));
        self.writes[kind as usize].push(w);
        Ok(true)
    }

    /// Runs the pending writes, one statement per kind, and empties the run.
    pub(super) async fn flush(&mut self, conn: &mut PgConnection) -> Result<(), StoreError> {
        for kind in KINDS {
            let writes = &self.writes[kind as usize];
            if !writes.is_empty() {
                run_kind(conn, kind, writes).await?;
            }
        }
        self.writes.iter_mut().for_each(Vec::clear);
        self.calls.clear();
        self.rows.clear();
        Ok(())
    }
}

/// One statement for `writes`, all of `kind`, each about another row.
async fn run_kind(
    conn: &mut PgConnection,
    kind: Kind,
    writes: &[&Write],
) -> Result<(), StoreError> {
    let ids: Vec<&str> = writes.iter().map(|w| w.call_id()).collect();
    let n = writes.len();
    // Rows the statement changed, to warn about the writes that changed nothing.
    let done: Vec<(String, i64)> = match kind {
        Kind::Arrival => {
            let (mut sip, mut caller, mut called) = (vec![], vec![], vec![]);
            let (mut source, mut transport, mut at) = (vec![], vec![], Vec::with_capacity(n));
            for w in writes {
                if let Write::CallArrived {
                    sip_call_id: s,
                    caller: c,
                    called: d,
                    source: f,
                    transport: t,
                    at_ms,
                    ..
                } = w
                {
                    sip.push(s.as_str());
                    caller.push(c.as_str());
                    called.push(d.as_str());
                    source.push(f.as_str());
                    transport.push(*t);
                    at.push(*at_ms);
                }
            }
            let q = sqlx::query_scalar(INSERT_CALLS)
                .bind(&ids)
                .bind(sip)
                .bind(caller)
                .bind(called)
                .bind(source)
                .bind(transport)
                .bind(at);
            with_seq0(q.fetch_all(&mut *conn).await?)
        }
        Kind::Answer => {
            let mut at = Vec::with_capacity(n);
            for w in writes {
                if let Write::CallAnswered { at_ms, .. } = w {
                    at.push(*at_ms);
                }
            }
            let q = sqlx::query_scalar(ANSWER_CALLS).bind(&ids).bind(at);
            with_seq0(q.fetch_all(&mut *conn).await?)
        }
        Kind::End => {
            let (mut at, mut who, mut cause, mut status) = (vec![], vec![], vec![], vec![]);
            for w in writes {
                if let Write::CallEnded {
                    at_ms,
                    by,
                    cause: c,
                    status: s,
                    ..
                } = w
                {
                    at.push(*at_ms);
                    who.push(*by);
                    cause.push(*c);
                    status.push(s.map(i32::from));
                }
            }
            let q = sqlx::query_scalar(END_CALLS)
                .bind(&ids)
                .bind(at)
                .bind(who)
                .bind(cause)
                .bind(status);
            with_seq0(q.fetch_all(&mut *conn).await?)
        }
        Kind::Ivr => {
            let (mut lang, mut cust, mut verif) = (vec![], vec![], vec![]);
            let (mut outc, mut que, mut prio) = (vec![], vec![], vec![]);
            for w in writes {
                if let Write::CallIvr { ivr, .. } = w {
                    lang.push(ivr.language.as_deref());
                    cust.push(ivr.customer.as_deref());
                    verif.push(ivr.verified);
                    outc.push(ivr.outcome.as_deref());
                    que.push(ivr.queue.as_deref());
                    prio.push(ivr.priority);
                }
            }
            let q = sqlx::query_scalar(SET_CALLS_IVR)
                .bind(&ids)
                .bind(lang)
                .bind(cust)
                .bind(verif)
                .bind(outc)
                .bind(que)
                .bind(prio);
            with_seq0(q.fetch_all(&mut *conn).await?)
        }
        Kind::Rtp => {
            let (mut received, mut sent) = (Vec::with_capacity(n), Vec::with_capacity(n));
            for w in writes {
                if let Write::Agent(AgentWrite::CallRtp { rtp, .. }) = w {
                    received.push(rtp.0);
                    sent.push(rtp.1);
                }
            }
            let q = sqlx::query(SET_CALLS_RTP)
                .bind(&ids)
                .bind(received)
                .bind(sent);
            q.execute(&mut *conn).await?;
            // Agent writes are not checked for effect, on either path.
            return Ok(());
        }
        Kind::Event => {
            let (mut seq, mut at, mut what, mut detail) = (vec![], vec![], vec![], vec![]);
            for w in writes {
                if let Write::CallEvent {
                    seq: q,
                    at_ms,
                    kind: k,
                    detail: d,
                    ..
                } = w
                {
                    seq.push(*q);
                    at.push(*at_ms);
                    what.push(*k);
                    detail.push(d.as_str());
                }
            }
            let q = sqlx::query_as(INSERT_EVENTS)
                .bind(&ids)
                .bind(seq)
                .bind(at)
                .bind(what)
                .bind(detail);
            q.fetch_all(&mut *conn).await?
        }
    };
    let done: HashSet<(&str, i64)> = done.iter().map(|(id, seq)| (id.as_str(), *seq)).collect();
    for w in writes {
        note_no_effect(w, u64::from(done.contains(&key(w))));
    }
    Ok(())
}

fn with_seq0(ids: Vec<String>) -> Vec<(String, i64)> {
    ids.into_iter().map(|id| (id, 0)).collect()
}
