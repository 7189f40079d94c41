//! One connection of the HTTP server: its phase (sniffing for TLS, reading
//! the head, waiting for the answer, writing, draining), and moving it
//! along as far as its socket allows without blocking.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::epoll::EpollFlags;

use super::request::{head_end, parse, Parsed, Request, Response};
use super::web::Loaded;

/// Where a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
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

pub(super) struct Conn {
    pub(super) sock: TcpStream,
    pub(super) tls: Option<rustls::ServerConnection>,
    pub(super) cfg: Arc<Loaded>,
    pub(super) phase: Phase,
    pub(super) head: Vec<u8>,
    pub(super) out: Vec<u8>,
    pub(super) off: usize,
    pub(super) deadline: Instant,
    pub(super) interest: EpollFlags,
    pub(super) drained: usize,
}

pub(super) fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

pub(super) enum Next {
    Close,
    Wait,
    Answer(Response),
    Request(Request),
}

/// Reads or writes what the socket takes now.
pub(super) fn drive(c: &mut Conn, cap: usize) -> Next {
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

pub(super) enum TlsRead {
    Data(usize),
    Wait,
    Close,
}

/// Reads TLS records and takes the plaintext into `head`, at most
/// `cap + 1` bytes of it.
pub(super) fn tls_read(
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
pub(super) fn flush_tls(c: &mut Conn) -> Next {
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
