//! The exporter's HTTP server: small, bounded, and safe to face a network.
//!
//! - One thread reads and writes every connection without blocking
//!   (`epoll`), so a slow client, reading or writing, holds only its own
//!   connection: never a thread, never another scrape.
//! - The request line and headers are capped (8 KiB): a bigger request is
//!   answered 431 and never buffered beyond the cap. A request must arrive
//!   whole within 10 s, a response be taken within 30 s; then the
//!   connection is closed.
//! - Connections are capped (64): one more is answered 503 and closed.
//! - Responses are made by one worker thread (`/metrics` takes
//!   milliseconds); bcrypt checks, which take tens, by another, so a flood
//!   of wrong passwords never delays a scrape whose credentials passed
//!   before (those are recognised without bcrypt, see [`super::web::Auth`]).
//! - With TLS, a client that speaks plain HTTP is answered 400 in plain
//!   HTTP, as Go's servers do, and closed.
//! - One request per connection (`Connection: close`).

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

use super::conn::{drive, would_block, Conn, Next, Phase};
use super::request::serialize;
pub use super::request::{Request, Response};
use super::web::{Loaded, Verdict, Web};

/// What makes responses.
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// The server's bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Bytes of request line and headers.
    pub head_bytes: usize,
    /// Time for a whole request to arrive.
    pub head_timeout: Duration,
    /// Time for a whole response to be taken.
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 64,
            head_bytes: 8 << 10,
            head_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// A listening server.
pub struct Server {
    listener: TcpListener,
    web: Arc<Web>,
    handler: Handler,
    limits: Limits,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("limits", &self.limits)
            .finish()
    }
}

const LISTENER: u64 = 0;
const WAKER: u64 = 1;

enum Job {
    Respond(u64, Request),
    Authenticate(u64, Request, Arc<Loaded>),
}

struct Shared {
    done: Mutex<Vec<(u64, Response)>>,
    waker: EventFd,
}

impl Server {
    /// Listens on `addr`.
    pub fn bind(addr: &str, web: Arc<Web>, handler: Handler, limits: Limits) -> io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(Server {
            listener,
            web,
            handler,
            limits,
        })
    }

    /// The address listened on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop()` says so (looked at four times a second).
    pub fn run(self, stop: &dyn Fn() -> bool) -> io::Result<()> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(io::Error::from)?;
        let shared = Arc::new(Shared {
            done: Mutex::new(Vec::new()),
            waker: EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
                .map_err(io::Error::from)?,
        });
        epoll
            .add(
                &self.listener,
                EpollEvent::new(EpollFlags::EPOLLIN, LISTENER),
            )
            .map_err(io::Error::from)?;
        epoll
            .add(&shared.waker, EpollEvent::new(EpollFlags::EPOLLIN, WAKER))
            .map_err(io::Error::from)?;
        let (respond_tx, respond_rx) = mpsc::sync_channel::<Job>(self.limits.max_connections);
        let (auth_tx, auth_rx) = mpsc::sync_channel::<Job>(self.limits.max_connections);
        {
            let shared = Arc::clone(&shared);
            let handler = Arc::clone(&self.handler);
            std::thread::Builder::new()
                .name("ctctl-http".into())
                .spawn(move || {
                    for job in respond_rx {
                        if let Job::Respond(token, req) = job {
                            let resp = handler(&req);
                            finish(&shared, token, resp);
                        }
                    }
                })?;
        }
        {
            let shared = Arc::clone(&shared);
            let web = Arc::clone(&self.web);
            let respond = respond_tx.clone();
            std::thread::Builder::new()
                .name("ctctl-auth".into())
                .spawn(move || {
                    for job in auth_rx {
                        if let Job::Authenticate(token, req, cfg) = job {
                            if web.auth().check(&cfg, req.header("authorization")) {
                                let _ = respond.send(Job::Respond(token, req));
                            } else {
                                finish(&shared, token, unauthorized());
                            }
                        }
                    }
                })?;
        }
        let mut lp = Loop {
            epoll,
            conns: HashMap::new(),
            next: 2,
            limits: self.limits.clone(),
            web: Arc::clone(&self.web),
            respond: respond_tx,
            auth: auth_tx,
            rate: Bucket::default(),
        };
        let mut ready = vec![EpollEvent::empty(); 64];
        while !stop() {
            let n = match lp.epoll.wait(&mut ready, EpollTimeout::from(250u16)) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            for ev in &ready[..n] {
                match ev.data() {
                    LISTENER => lp.accept(&self.listener),
                    WAKER => {
                        let _ = shared.waker.read();
                        let done = std::mem::take(
                            &mut *shared.done.lock().unwrap_or_else(|p| p.into_inner()),
                        );
                        for (token, resp) in done {
                            lp.respond(token, resp);
                        }
                    }
                    token => lp.step(token),
                }
            }
            lp.expire();
        }
        Ok(())
    }
}

fn finish(shared: &Shared, token: u64, resp: Response) {
    shared
        .done
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((token, resp));
    let _ = shared.waker.write(1);
}

fn unauthorized() -> Response {
    let mut r = Response::text(401, "Unauthorized\n");
    r.headers
        .push(("WWW-Authenticate", "Basic realm=\"ctctl\"".into()));
    r
}

/// A token bucket for `rate_limit` (one for the server).
#[derive(Debug, Default)]
struct Bucket {
    tokens: f64,
    at: Option<Instant>,
}

impl Bucket {
    fn take(&mut self, interval: Duration, burst: u32) -> bool {
        let now = Instant::now();
        let refill = self.at.map_or(f64::from(burst), |at| {
            now.duration_since(at).as_secs_f64() / interval.as_secs_f64()
        });
        self.tokens = (self.tokens + refill).min(f64::from(burst));
        self.at = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct Loop {
    epoll: Epoll,
    conns: HashMap<u64, Conn>,
    next: u64,
    limits: Limits,
    web: Arc<Web>,
    respond: mpsc::SyncSender<Job>,
    auth: mpsc::SyncSender<Job>,
    rate: Bucket,
}

impl Loop {
    fn accept(&mut self, listener: &TcpListener) {
        loop {
            let (sock, peer) = match listener.accept() {
                Ok(s) => s,
                Err(e) if would_block(&e) => return,
                Err(e) => {
                    // EMFILE and the like: leave the rest in the backlog.
                    tracing::warn!("exporter: accept: {e}");
                    return;
                }
            };
            if sock.set_nonblocking(true).is_err() {
                continue;
            }
            let _ = sock.set_nodelay(true);
            let cfg = self.web.current();
            if self.conns.len() >= self.limits.max_connections {
                tracing::debug!("exporter: {peer}: too many connections, answered 503");
                if cfg.tls.is_none() {
                    let bytes =
                        serialize(&Response::text(503, "Too many connections\n"), false, &[]);
                    let _ = (&sock).write(&bytes);
                }
                continue;
            }
            let token = self.next;
            self.next += 1;
            let phase = if cfg.tls.is_some() {
                Phase::Sniff
            } else {
                Phase::Reading
            };
            let interest = EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP;
            if self
                .epoll
                .add(&sock, EpollEvent::new(interest, token))
                .is_err()
            {
                continue;
            }
            self.conns.insert(
                token,
                Conn {
                    sock,
                    tls: None,
                    cfg,
                    phase,
                    head: Vec::new(),
                    out: Vec::new(),
                    off: 0,
                    deadline: Instant::now() + self.limits.head_timeout,
                    interest,
                    drained: 0,
                },
            );
        }
    }

    fn close(&mut self, token: u64) {
        if let Some(c) = self.conns.remove(&token) {
            let _ = self.epoll.delete(&c.sock);
        }
    }

    fn expire(&mut self) {
        let now = Instant::now();
        let late: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(t, _)| *t)
            .collect();
        for t in late {
            tracing::debug!("exporter: connection timed out");
            self.close(t);
        }
    }

    /// Answers a connection with `resp` now.
    fn respond(&mut self, token: u64, resp: Response) {
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        let head_only = c.out.first() == Some(&b'H');
        let bytes = serialize(&resp, head_only, &c.cfg.headers);
        c.out.clear();
        c.off = 0;
        match &mut c.tls {
            Some(tls) => {
                tls.set_buffer_limit(None);
                let _ = tls.writer().write_all(&bytes);
                tls.send_close_notify();
            }
            None => c.out = bytes,
        }
        c.phase = Phase::Writing;
        c.deadline = Instant::now() + self.limits.write_timeout;
        self.step(token);
    }

    /// Moves a connection along as far as its socket allows.
    fn step(&mut self, token: u64) {
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        let outcome = drive(c, self.limits.head_bytes);
        match outcome {
            Next::Close => self.close(token),
            Next::Wait => self.interest(token),
            Next::Answer(resp) => self.respond(token, resp),
            Next::Request(req) => self.dispatch(token, req),
        }
    }

    fn interest(&mut self, token: u64) {
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        let tls_out = c.tls.as_ref().is_some_and(|t| t.wants_write());
        let mut want = EpollFlags::EPOLLRDHUP;
        match c.phase {
            Phase::Sniff | Phase::Reading | Phase::Draining => want |= EpollFlags::EPOLLIN,
            Phase::Waiting => {}
            Phase::Writing => want |= EpollFlags::EPOLLOUT,
        }
        if tls_out {
            want |= EpollFlags::EPOLLOUT;
        }
        if want != c.interest {
            c.interest = want;
            let mut ev = EpollEvent::new(want, token);
            if self.epoll.modify(&c.sock, &mut ev).is_err() {
                self.close(token);
            }
        }
    }

    fn dispatch(&mut self, token: u64, req: Request) {
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        c.phase = Phase::Waiting;
        // Remember HEAD for the response (`out` is empty until then).
        c.out = if req.method == "HEAD" {
            b"H".to_vec()
        } else {
            Vec::new()
        };
        let cfg = Arc::clone(&c.cfg);
        self.interest(token);
        if let Some((interval, burst)) = cfg.rate {
            if !self.rate.take(interval, burst) {
                return self.respond(token, Response::text(429, "Too Many Requests\n"));
            }
        }
        let job = match self.web.auth().quick(&cfg, req.header("authorization")) {
            Verdict::Pass => self.respond.try_send(Job::Respond(token, req)),
            Verdict::Fail => return self.respond(token, unauthorized()),
            Verdict::Check => self.auth.try_send(Job::Authenticate(token, req, cfg)),
        };
        if job.is_err() {
            self.respond(token, Response::text(503, "Busy\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::request::*;

    #[test]
    fn heads_parse_and_bad_ones_get_their_status() {
        let ok = parse(b"GET /metrics?x=1 HTTP/1.1\r\nAccept: text/plain\r\n\r\n");
        let Parsed::Ok(r) = ok else {
            panic!("not parsed")
        };
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/metrics"));
        assert_eq!(r.header("accept"), Some("text/plain"));
        let status = |h: &[u8]| match parse(h) {
            Parsed::Ok(_) => 200,
            Parsed::Bad(r) => r.status,
        };
        assert_eq!(status(b"POST / HTTP/1.1\r\n\r\n"), 405);
        assert_eq!(status(b"GARBAGE\r\n\r\n"), 400);
        let many: String = (0..70).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(
            status(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()),
            431
        );
    }

    #[test]
    fn the_rate_bucket_allows_the_burst_then_one_per_interval() {
        let mut b = Bucket::default();
        let i = Duration::from_secs(3600);
        assert!(b.take(i, 2));
        assert!(b.take(i, 2));
        assert!(!b.take(i, 2));
    }

    #[test]
    fn responses_say_close_and_head_has_no_body() {
        let r = Response::text(200, "hello");
        let full = String::from_utf8(serialize(
            &r,
            false,
            &[("X-Frame-Options".into(), "DENY".into())],
        ))
        .unwrap();
        assert!(full.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(full.contains("Content-Length: 5\r\nConnection: close\r\n"));
        assert!(full.contains("X-Frame-Options: DENY\r\n"));
        assert!(full.ends_with("\r\n\r\nhello"));
        let head = String::from_utf8(serialize(&r, true, &[])).unwrap();
        assert!(head.ends_with("\r\n\r\n"));
    }
}
