//! Limits of the HTTP side against clients that hold connections open (slowloris, idle
//! keep-alives): at most [`Limits::connections`] at once, each for at most
//! [`Limits::lifetime`]. axum's own `serve` has neither (hyper's header timeout needs a timer
//! axum does not give it), so the listener hands out streams that carry both.
//!
//! ```text
//!   accept ─► wait for a permit (others wait in the kernel's backlog) ─► GuardedStream
//!                                                                         │ permit: released on drop
//!                                                                         │ deadline: reads and writes
//!                                                                         ▼ fail with TimedOut after it
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// How many connections, for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub connections: usize,
    pub lifetime: Duration,
}

impl Default for Limits {
    /// A phone book of 10,000 entries is about 1.5 MB: a second on an office network.
    fn default() -> Self {
        Limits {
            connections: 64,
            lifetime: Duration::from_secs(30),
        }
    }
}

/// A TCP listener whose connections are counted and have a deadline.
pub struct GuardedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    lifetime: Duration,
}

impl GuardedListener {
    pub fn new(inner: TcpListener, limits: Limits) -> GuardedListener {
        GuardedListener {
            inner,
            permits: Arc::new(Semaphore::new(limits.connections.max(1))),
            lifetime: limits.lifetime,
        }
    }
}

/// The client's address as routes read it (`ConnectInfo<ClientAddress>`), e.g. to slow down
/// failed logins per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, GuardedListener>>
    for ClientAddress
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, GuardedListener>) -> Self {
        ClientAddress(*stream.remote_addr())
    }
}

impl axum::serve::Listener for GuardedListener {
    type Io = GuardedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (GuardedStream, SocketAddr) {
        loop {
            // The semaphore is never closed; if it were, connections would go unlimited
            // rather than the server stopping.
            let permit = self.permits.clone().acquire_owned().await.ok();
            match self.inner.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        GuardedStream {
                            stream,
                            _permit: permit,
                            deadline: Box::pin(tokio::time::sleep(self.lifetime)),
                        },
                        peer,
                    );
                }
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to close.
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A connection that holds one permit and fails its reads and writes after its deadline.
pub struct GuardedStream {
    stream: TcpStream,
    _permit: Option<OwnedSemaphorePermit>,
    deadline: Pin<Box<Sleep>>,
}

impl GuardedStream {
    /// Past the deadline (and, when not, the task is woken when it comes).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "HTTP connection open too long")
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.expired(cx) {
            return Poll::Ready(Err(timed_out()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.expired(cx) {
            return Poll::Ready(Err(timed_out()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.expired(cx) {
            return Poll::Ready(Err(timed_out()));
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Instant;

    use axum::Router;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn get_root(port: u16) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.unwrap();
        reply
    }

    /// One connection allowed: an idle client holds it until its lifetime ends and is then
    /// cut off; the next client is served after that, not before.
    #[tokio::test]
    async fn an_idle_client_holds_a_connection_only_for_its_lifetime() {
        let lifetime = Duration::from_millis(300);
        let inner = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = inner.local_addr().unwrap().port();
        let listener = GuardedListener::new(
            inner,
            Limits {
                connections: 1,
                lifetime,
            },
        );
        let router = Router::new().route("/", get(|| async { "ok" }));
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(async move {
            let _ = axum::serve(listener, router).await;
        });

        let started = Instant::now();
        let mut idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let reply = get_root(port).await;
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.ends_with("ok"), "{reply}");
        assert!(
            started.elapsed() >= lifetime,
            "served only once the idle one was cut off ({:?})",
            started.elapsed()
        );
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut rest))
            .await
            .unwrap();
        assert!(
            closed.is_err() || rest.is_empty(),
            "the idle client was cut off"
        );
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}
