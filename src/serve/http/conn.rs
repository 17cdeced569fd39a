//! Connections: caps (in all and per client address), the TLS handshake,
//! header, idle and shutdown timeouts, and hyper's HTTP/1.1 on top.
//!
//! A client over a cap is answered `503` (plain HTTP) or dropped (TLS) at
//! once, without reading anything, so slow or many connections from one
//! address cannot starve the others; a client that does not finish its
//! headers within `--header-timeout`, or stays idle past `--idle-timeout`,
//! is disconnected.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::serve::{log, ServeArgs, Server};

/// The largest request head (request line and headers) read.
const MAX_HEAD: usize = 64 * 1024;
/// The TLS handshake must finish within this.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// The answer to a connection over a cap.
const REFUSED: &str = concat!(
    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: 52\r\n\r\n",
    "{\"error\": \"too many connections; try again shortly\"}"
);

/// After SIGTERM, requests in flight get this long to finish.
const DRAIN: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    #[test]
    fn the_refusal_says_its_length() {
        let (head, body) = super::REFUSED.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())) || head.ends_with(&format!("content-length: {}", body.len())));
    }
}

#[derive(Clone, Copy, Debug)]
pub(in crate::serve) struct Limits {
    pub max_total: usize,
    pub max_per_address: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

impl From<&ServeArgs> for Limits {
    fn from(a: &ServeArgs) -> Limits {
        Limits {
            max_total: a.max_connections.max(1),
            max_per_address: a.max_connections_per_address.max(1),
            header_timeout: Duration::from_secs(a.header_timeout.max(1)),
            idle_timeout: Duration::from_secs(a.idle_timeout.max(1)),
        }
    }
}

/// The open connections, counted (all on the one accept thread).
pub(in crate::serve) struct Connections {
    limits: Limits,
    open: Rc<RefCell<Counts>>,
    all_closed: Rc<tokio::sync::Notify>,
    refused_logged: Cell<Option<Instant>>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// Decrements the counts when a connection ends, however it ends.
struct Slot {
    open: Rc<RefCell<Counts>>,
    ip: IpAddr,
    all_closed: Rc<tokio::sync::Notify>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.open.borrow_mut();
        c.total -= 1;
        if let Some(n) = c.per_address.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_address.remove(&self.ip);
            }
        }
        if c.total == 0 {
            self.all_closed.notify_waiters();
        }
    }
}

impl Connections {
    pub fn new(limits: Limits) -> Connections {
        Connections { limits, open: Rc::default(), all_closed: Rc::default(), refused_logged: Cell::new(None) }
    }

    /// Takes on an accepted connection, or refuses it when a cap is reached.
    pub fn accept(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        server: &Arc<Server>,
        tls: Option<tokio_rustls::TlsAcceptor>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let ip = peer.ip().to_canonical();
        {
            let mut c = self.open.borrow_mut();
            let from_ip = c.per_address.get(&ip).copied().unwrap_or(0);
            if c.total >= self.limits.max_total || from_ip >= self.limits.max_per_address {
                drop(c);
                self.refuse(stream, tls.is_none(), ip);
                return;
            }
            c.total += 1;
            *c.per_address.entry(ip).or_default() += 1;
        }
        let slot = Slot { open: self.open.clone(), ip, all_closed: self.all_closed.clone() };
        let _ = stream.set_nodelay(true);
        let server = server.clone();
        let limits = self.limits;
        tokio::task::spawn_local(async move {
            let _slot = slot;
            match tls {
                None => serve_connection(stream, peer, server, limits, stop).await,
                Some(acceptor) => {
                    // A failed or slow handshake: nothing to answer.
                    if let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                        serve_connection(stream, peer, server, limits, stop).await;
                    }
                }
            }
        });
    }

    fn refuse(&self, stream: TcpStream, plain: bool, ip: IpAddr) {
        if plain {
            // Best effort, never waits: the socket buffer of a new connection is empty.
            let _ = stream.try_write(REFUSED.as_bytes());
        }
        let now = Instant::now();
        if self.refused_logged.get().is_none_or(|t| now.duration_since(t) > Duration::from_secs(10)) {
            self.refused_logged.set(Some(now));
            let c = self.open.borrow();
            log(&format!(
                "refusing connections from {ip}: {} open in all (cap {}), {} from this address (cap {})",
                c.total,
                self.limits.max_total,
                c.per_address.get(&ip).copied().unwrap_or(0),
                self.limits.max_per_address
            ));
        }
    }

    /// Waits until every connection has ended.
    pub async fn all_closed(&self) {
        while self.open.borrow().total > 0 {
            let _ = tokio::time::timeout(Duration::from_millis(100), self.all_closed.notified()).await;
        }
    }
}

async fn serve_connection<S>(stream: S, peer: SocketAddr, server: Arc<Server>, limits: Limits, mut stop: tokio::sync::watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let activity = Rc::new(Activity { last: Cell::new(Instant::now()), in_flight: Cell::new(0) });
    let io = hyper_util::rt::TokioIo::new(Tracked { inner: stream, activity: activity.clone() });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req| {
            let server = server.clone();
            let activity = activity.clone();
            async move {
                activity.in_flight.set(activity.in_flight.get() + 1);
                let reply = super::routes::handle(&server, req, peer).await;
                activity.in_flight.set(activity.in_flight.get() - 1);
                activity.last.set(Instant::now());
                Ok::<_, std::convert::Infallible>(reply)
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut draining: Option<Instant> = None;
    loop {
        let idle_at = activity.last.get() + limits.idle_timeout;
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = tokio::time::sleep_until(idle_at), if draining.is_none() => {
                if activity.in_flight.get() == 0 && activity.last.get() + limits.idle_timeout <= Instant::now() {
                    conn.as_mut().graceful_shutdown();
                    draining = Some(Instant::now() + DRAIN);
                }
            }
            _ = stop.changed(), if draining.is_none() => {
                conn.as_mut().graceful_shutdown();
                draining = Some(Instant::now() + DRAIN);
            }
            _ = tokio::time::sleep_until(draining.unwrap_or_else(Instant::now)), if draining.is_some() => return,
        }
    }
}

/// When the connection last moved bytes, and how many requests are being answered.
struct Activity {
    last: Cell<Instant>,
    in_flight: Cell<usize>,
}

/// A stream that notes its activity, for the idle timeout.
struct Tracked<S> {
    inner: S,
    activity: Rc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.last.set(Instant::now());
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.last.set(Instant::now());
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.last.set(Instant::now());
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
