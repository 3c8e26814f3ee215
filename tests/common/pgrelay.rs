//! A TCP relay between one hotline node and PostgreSQL, to cut the node off from its
//! database the way a dead link does: while cut, no byte goes through either way and no
//! socket is closed, so the node's queries hang until their deadlines (new connections
//! are accepted and go nowhere). On restore, every connection that was open during the
//! cut is closed, both ways (as a firewall that lost its state would), so PostgreSQL ends
//! those sessions (rolling back what they had begun) and the node reconnects; new
//! connections go through again. Stopped on drop.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

pub struct PgRelay {
    pub addr: SocketAddr,
    /// The database URL it relays for, with its host and port replaced by the relay's.
    pub url: String,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    upstream: SocketAddr,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    cut: bool,
    stopped: bool,
    next: u64,
    links: HashMap<u64, Link>,
}

/// One relayed connection: its sockets (node side, then database side once connected).
struct Link {
    sockets: Vec<TcpStream>,
    /// Open while the relay was cut: closed on restore.
    in_cut: bool,
    closed: bool,
}

impl PgRelay {
    /// A relay on 127.0.0.1 to the PostgreSQL server named by `db_url`.
    pub fn start(db_url: &str) -> PgRelay {
        let (head, authority, rest) = split_url(db_url);
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
        let host_port = match host_port.rsplit_once(':') {
            Some((_, port)) if port.parse::<u16>().is_ok() => host_port.to_string(),
            _ => format!("{host_port}:5432"),
        };
        let upstream = host_port
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .unwrap_or_else(|| panic!("cannot resolve the database at {host_port}"));
        let listener = TcpListener::bind("127.0.0.1:0").expect("relay listener");
        let addr = listener.local_addr().unwrap();
        let user = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
        let url = format!("{head}{}{addr}{rest}", user.unwrap_or_default());
        let shared = Arc::new(Shared {
            upstream,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let s = shared.clone();
        let accept = std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.lock().stopped {
                    return;
                }
                let Ok(client) = client else { continue };
                let s = s.clone();
                std::thread::spawn(move || relay(s, client));
            }
        });
        PgRelay {
            addr,
            url,
            shared,
            accept: Some(accept),
        }
    }

    /// From now on nothing goes through, either way; nothing is closed.
    pub fn cut(&self) {
        let mut st = self.shared.lock();
        st.cut = true;
        for link in st.links.values_mut() {
            link.in_cut = true;
        }
    }

    /// Traffic flows again: the connections open during the cut are closed (what they
    /// held is dropped), new ones are relayed.
    pub fn restore(&self) {
        let mut st = self.shared.lock();
        st.cut = false;
        for link in st.links.values_mut().filter(|l| l.in_cut) {
            link.close();
        }
        self.shared.changed.notify_all();
    }
}

impl Drop for PgRelay {
    fn drop(&mut self) {
        {
            let mut st = self.shared.lock();
            st.stopped = true;
            st.cut = false;
            for link in st.links.values_mut() {
                link.close();
            }
            self.shared.changed.notify_all();
        }
        // Wakes the accepting thread, which sees `stopped`.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits out a cut; `false` when link `id` is to go (closed on restore, or the relay
    /// stopped).
    fn pass(&self, id: u64) -> bool {
        let mut st = self.lock();
        while st.cut && !st.stopped {
            st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        !st.stopped && st.links.get(&id).is_some_and(|l| !l.closed)
    }
}

impl Link {
    fn close(&mut self) {
        self.closed = true;
        for s in &self.sockets {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// One connection: held while cut, then connected to the database and pumped both ways.
fn relay(shared: Arc<Shared>, client: TcpStream) {
    let id = {
        let mut st = shared.lock();
        st.next += 1;
        let id = st.next;
        let link = Link {
            sockets: vec![client.try_clone().unwrap()],
            in_cut: st.cut,
            closed: false,
        };
        st.links.insert(id, link);
        id
    };
    let upstream = match shared.pass(id) {
        true => TcpStream::connect(shared.upstream).ok(),
        false => None,
    };
    let upstream = {
        let mut st = shared.lock();
        let link = st.links.get_mut(&id).unwrap();
        match upstream {
            Some(u) if !link.closed => {
                link.sockets.push(u.try_clone().unwrap());
                Some(u)
            }
            _ => None,
        }
    };
    let Some(upstream) = upstream else {
        finish(&shared, id);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (c2, u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let s = shared.clone();
    let back = std::thread::spawn(move || pump(&s, id, u2, c2));
    pump(&shared, id, client, upstream);
    let _ = back.join();
}

/// Copies `from` to `to` while the link lives; a byte read during a cut waits for the
/// restore (and is dropped with its link then). Either side ending ends the link.
fn pump(shared: &Shared, id: u64, mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => 0,
            Ok(n) => n,
        };
        // Nothing (not even the end of a connection) crosses a cut link.
        if !shared.pass(id) || n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    finish(shared, id);
}

/// Closes link `id` both ways and forgets it.
fn finish(shared: &Shared, id: u64) {
    if let Some(mut link) = shared.lock().links.remove(&id) {
        link.close();
    }
}

/// `scheme://`, `user@host:port`, `/db?params`.
fn split_url(url: &str) -> (&str, &str, &str) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    (&url[..start], &url[start..end], &url[end..])
}
