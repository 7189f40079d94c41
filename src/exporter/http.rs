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
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

use super::web::{Loaded, Verdict, Web};

/// A request, as much of it as the exporter uses.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET` or `HEAD`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The headers (names as sent).
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// A header's value (the first of that name, any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The content type.
    pub content_type: &'static str,
    /// More headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A plain-text response.
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: body.into().into_bytes(),
        }
    }
}

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

/// Where a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// TLS expected: looking at the first byte.
    Sniff,
    /// Reading the request head.
    Reading,
    /// A worker is answering.
    Waiting,
    /// Sending the response.
    Writing,
    /// Response sent, write side shut: reading what the client still
    /// sends, so that closing does not reset the connection under the
    /// response.
    Draining,
}

struct Conn {
    sock: TcpStream,
    tls: Option<rustls::ServerConnection>,
    cfg: Arc<Loaded>,
    phase: Phase,
    head: Vec<u8>,
    out: Vec<u8>,
    off: usize,
    deadline: Instant,
    interest: EpollFlags,
    drained: usize,
}

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

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// The bytes of a response.
fn serialize(resp: &Response, head_only: bool, extra: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(resp.body.len() + 256);
    let _ = write!(
        out,
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.body.len()
    );
    for (k, v) in &resp.headers {
        let _ = write!(out, "{k}: {v}\r\n");
    }
    for (k, v) in extra {
        let _ = write!(out, "{k}: {v}\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(&resp.body);
    }
    out
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// Where the request head ends (after its blank line), if it has.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// What a complete head is.
enum Parsed {
    Ok(Request),
    Bad(Response),
}

fn parse(head: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Parsed::Bad(Response::text(400, "Bad Request\n")),
        Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Bad(Response::text(431, "Request Header Fields Too Large\n"))
        }
        Err(e) => return Parsed::Bad(Response::text(400, format!("Bad Request: {e}\n"))),
    }
    let method = req.method.unwrap_or("").to_string();
    let target = req.path.unwrap_or("");
    let path = target.split('?').next().unwrap_or("").to_string();
    let headers = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    if method != "GET" && method != "HEAD" {
        let mut r = Response::text(405, "Method Not Allowed\n");
        r.headers.push(("Allow", "GET, HEAD".into()));
        return Parsed::Bad(r);
    }
    Parsed::Ok(Request {
        method,
        path,
        headers,
    })
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

enum Next {
    Close,
    Wait,
    Answer(Response),
    Request(Request),
}

/// Reads or writes what the socket takes now.
fn drive(c: &mut Conn, cap: usize) -> Next {
    let mut buf = [0u8; 4096];
    loop {
        match c.phase {
            Phase::Sniff => {
                let mut first = [0u8; 1];
                match c.sock.peek(&mut first) {
                    Ok(0) => return Next::Close,
                    Ok(_) if first[0] != 0x16 => {
                        tracing::debug!("exporter: plain HTTP on the TLS listener, answered 400");
                        c.phase = Phase::Reading;
                        return Next::Answer(Response::text(
                            400,
                            "Client sent an HTTP request to an HTTPS server.\n",
                        ));
                    }
                    Ok(_) => {
                        let Some(cfg) = c.cfg.tls.clone() else {
                            return Next::Close;
                        };
                        match rustls::ServerConnection::new(cfg) {
                            Ok(t) => c.tls = Some(t),
                            Err(_) => return Next::Close,
                        }
                        c.phase = Phase::Reading;
                    }
                    Err(e) if would_block(&e) => return Next::Wait,
                    Err(_) => return Next::Close,
                }
            }
            Phase::Reading => {
                let n = match &mut c.tls {
                    None => {
                        let room = (cap + 1).saturating_sub(c.head.len()).min(buf.len());
                        match c.sock.read(&mut buf[..room]) {
                            Ok(0) => return Next::Close,
                            Ok(n) => {
                                c.head.extend_from_slice(&buf[..n]);
                                n
                            }
                            Err(e) if would_block(&e) => return Next::Wait,
                            Err(_) => return Next::Close,
                        }
                    }
                    Some(tls) => match tls_read(tls, &mut c.sock, &mut c.head, cap) {
                        TlsRead::Data(n) => n,
                        TlsRead::Wait => return flush_tls(c),
                        TlsRead::Close => {
                            let _ = flush_tls(c);
                            return Next::Close;
                        }
                    },
                };
                if let Some(end) = head_end(&c.head) {
                    let parsed = parse(&c.head[..end]);
                    return match parsed {
                        Parsed::Ok(r) => Next::Request(r),
                        Parsed::Bad(r) => Next::Answer(r),
                    };
                }
                if c.head.len() > cap {
                    tracing::debug!("exporter: request head over {cap} bytes, answered 431");
                    return Next::Answer(Response::text(431, "Request Header Fields Too Large\n"));
                }
                if n == 0 {
                    return Next::Wait;
                }
            }
            Phase::Waiting => return Next::Wait,
            Phase::Writing => {
                let done = match &mut c.tls {
                    Some(_) => match flush_tls(c) {
                        Next::Close => return Next::Close,
                        _ => !c.tls.as_ref().is_some_and(|t| t.wants_write()),
                    },
                    None => {
                        while c.off < c.out.len() {
                            match c.sock.write(&c.out[c.off..]) {
                                Ok(0) => return Next::Close,
                                Ok(n) => c.off += n,
                                Err(e) if would_block(&e) => return Next::Wait,
                                Err(_) => return Next::Close,
                            }
                        }
                        true
                    }
                };
                if !done {
                    return Next::Wait;
                }
                let _ = c.sock.shutdown(std::net::Shutdown::Write);
                c.phase = Phase::Draining;
                c.deadline = Instant::now() + Duration::from_secs(2);
            }
            Phase::Draining => loop {
                match c.sock.read(&mut buf) {
                    Ok(0) => return Next::Close,
                    Ok(n) => {
                        c.drained += n;
                        if c.drained > 64 << 10 {
                            return Next::Close;
                        }
                    }
                    Err(e) if would_block(&e) => return Next::Wait,
                    Err(_) => return Next::Close,
                }
            },
        }
    }
}

enum TlsRead {
    Data(usize),
    Wait,
    Close,
}

/// Reads TLS records and takes the plaintext into `head`, at most
/// `cap + 1` bytes of it.
fn tls_read(
    tls: &mut rustls::ServerConnection,
    sock: &mut TcpStream,
    head: &mut Vec<u8>,
    cap: usize,
) -> TlsRead {
    match tls.read_tls(sock) {
        Ok(0) => return TlsRead::Close,
        Ok(_) => {}
        Err(e) if would_block(&e) => return TlsRead::Wait,
        Err(_) => return TlsRead::Close,
    }
    if let Err(e) = tls.process_new_packets() {
        tracing::debug!("exporter: TLS: {e}");
        return TlsRead::Close;
    }
    let mut got = 0;
    let mut buf = [0u8; 4096];
    while head.len() <= cap {
        let room = (cap + 1 - head.len()).min(buf.len());
        match tls.reader().read(&mut buf[..room]) {
            Ok(0) => break,
            Ok(n) => {
                head.extend_from_slice(&buf[..n]);
                got += n;
            }
            Err(_) => break,
        }
    }
    // Handshake data read, no plaintext yet: go on reading.
    TlsRead::Data(got.max(1))
}

/// Sends what TLS has to send.
fn flush_tls(c: &mut Conn) -> Next {
    let Some(tls) = &mut c.tls else {
        return Next::Wait;
    };
    while tls.wants_write() {
        match tls.write_tls(&mut c.sock) {
            Ok(0) => return Next::Close,
            Ok(_) => {}
            Err(e) if would_block(&e) => return Next::Wait,
            Err(_) => return Next::Close,
        }
    }
    Next::Wait
}

#[cfg(test)]
mod tests {
    use super::*;

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
