//! Slow clients are cut off at the socket: a connection gets
//! `REQUEST_READ_TIMEOUT_SECONDS` from the first byte of a request until the
//! gateway starts writing its answer, however slowly the bytes trickle in
//! (slowloris headers, a body sent a byte at a time), and an idle keep-alive
//! connection is closed after [`IDLE`]. hyper, under poem, has no header or
//! body read deadline of its own, so the acceptor wraps every socket.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How long a keep-alive connection may sit between requests.
pub const IDLE: Duration = Duration::from_secs(120);

/// Wraps every accepted socket in a [`DeadlineIo`].
pub struct SlowClientCutoff<A> {
    inner: A,
    request_deadline: Duration,
}

impl<A> SlowClientCutoff<A> {
    pub fn new(inner: A, request_deadline: Duration) -> Self {
        Self { inner, request_deadline }
    }
}

impl<A: Acceptor> Acceptor for SlowClientCutoff<A> {
    type Io = DeadlineIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, scheme) = self.inner.accept().await?;
        Ok((DeadlineIo::new(io, self.request_deadline), local, remote, scheme))
    }
}

/// A socket that fails its reads once the current phase (reading a request,
/// or idling between requests) has outlasted its deadline.
pub struct DeadlineIo<T> {
    inner: T,
    request_deadline: Duration,
    /// A request has begun arriving and no answer is being written yet.
    in_request: bool,
    deadline: Pin<Box<Sleep>>,
}

impl<T> DeadlineIo<T> {
    fn new(inner: T, request_deadline: Duration) -> Self {
        Self { inner, request_deadline, in_request: false, deadline: Box::pin(tokio::time::sleep(IDLE)) }
    }

    fn timed_out(&self) -> io::Error {
        let what = if self.in_request { "the request was not received in time" } else { "idle connection" };
        io::Error::new(io::ErrorKind::TimedOut, what)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for DeadlineIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.deadline.is_elapsed() {
            return Poll::Ready(Err(this.timed_out()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && !this.in_request {
                    this.in_request = true;
                    let at = Instant::now() + this.request_deadline;
                    this.deadline.as_mut().reset(at);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(this.timed_out())),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for DeadlineIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) && this.in_request {
            // The answer is going out: the client is no longer the slow party.
            this.in_request = false;
            let at = Instant::now() + IDLE;
            this.deadline.as_mut().reset(at);
        }
        r
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) && this.in_request {
            this.in_request = false;
            let at = Instant::now() + IDLE;
            this.deadline.as_mut().reset(at);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
