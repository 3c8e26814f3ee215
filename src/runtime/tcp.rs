//! SIP over TCP: one task per connection frames the stream by Content-Length (RFC 3261
//! 18.3) and forwards whole messages to the core task; one task per connection writes.

use super::Event;
use crate::core::sip::endpoint::ConnId;
use crate::core::sip::message::{frame_stream, StreamFrame};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// How long a half-received message may wait for the rest (RFC 4475 3.1.2.2).
const PARTIAL_TIMEOUT: Duration = Duration::from_secs(32);
/// An accepted connection with nothing at all for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// On a connection of ours (to a trunk), a CRLF keep-alive (RFC 5626 4.4.1) after this
/// long without sending: such a connection carries a registration and calls that may be
/// quiet for longer than any idle limit, so it is kept open and its NAT bindings fresh.
const KEEPALIVE: Duration = Duration::from_secs(30);

pub(super) async fn accept(
    listener: TcpListener,
    inputs: mpsc::UnboundedSender<Event>,
    max: usize,
) {
    let mut next: ConnId = 1;
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                let id = next;
                next += 1;
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, addr, id, inputs.clone(), max, false));
            }
            Err(e) => {
                tracing::warn!(%e, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// How long opening a connection to a trunk may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens connection `id` to `addr` (asked for by the core): on success it runs like an
/// accepted one; on failure the core hears [`Event::ConnectFailed`].
pub(super) async fn connect(
    addr: SocketAddr,
    id: ConnId,
    inputs: mpsc::UnboundedSender<Event>,
    max: usize,
) {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            tracing::debug!(conn = id, %addr, "TCP connection opened");
            connection(stream, addr, id, inputs, max, true).await;
        }
        Ok(Err(e)) => {
            tracing::warn!(%addr, %e, "cannot open a TCP connection");
            let _ = inputs.send(Event::ConnectFailed(id));
        }
        Err(_) => {
            tracing::warn!(%addr, "TCP connection not made within {CONNECT_TIMEOUT:?}");
            let _ = inputs.send(Event::ConnectFailed(id));
        }
    }
}

async fn connection(
    stream: TcpStream,
    addr: SocketAddr,
    id: ConnId,
    inputs: mpsc::UnboundedSender<Event>,
    max: usize,
    ours: bool,
) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    if inputs.send(Event::Connected(id, tx)).is_err() {
        return;
    }
    let writer = tokio::spawn(async move {
        loop {
            let bytes = match ours {
                true => match tokio::time::timeout(KEEPALIVE, rx.recv()).await {
                    Ok(next) => next,
                    Err(_) => Some(b"\r\n\r\n".to_vec()),
                },
                false => rx.recv().await,
            };
            let Some(bytes) = bytes else { break };
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16_384];
    'read: loop {
        let read = rd.read(&mut chunk);
        let n = match (buf.is_empty(), ours) {
            (true, true) => read.await.ok(),
            (true, false) => tokio::time::timeout(IDLE_TIMEOUT, read)
                .await
                .ok()
                .and_then(Result::ok),
            (false, _) => tokio::time::timeout(PARTIAL_TIMEOUT, read)
                .await
                .ok()
                .and_then(Result::ok),
        };
        let n = match n {
            None | Some(0) => break,
            Some(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match frame_stream(&buf, max) {
                Ok(StreamFrame::Incomplete) => break,
                Ok(StreamFrame::KeepAlive(n)) => {
                    buf.drain(..n);
                }
                Ok(StreamFrame::Message { start, len }) => {
                    let msg = buf[start..start + len].to_vec();
                    buf.drain(..start + len);
                    if inputs.send(Event::Stream(id, addr, msg)).is_err() {
                        break 'read;
                    }
                }
                Err(err) => {
                    // The stream cannot be framed any more: answer if we can, then close.
                    // The writer sends the answer before it sees the connection closed.
                    let _ = inputs.send(Event::BadFrame(id, addr, std::mem::take(&mut buf), err));
                    break 'read;
                }
            }
        }
    }
    let _ = inputs.send(Event::Closed(id));
    let _ = writer.await;
}
