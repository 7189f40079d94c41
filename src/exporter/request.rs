//! HTTP/1.1 on the wire: a request head parsed ([`httparse`]) into what
//! the exporter uses, and a response written with `Connection: close`.

use std::io::Write;

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

pub(super) fn reason(status: u16) -> &'static str {
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
pub(super) fn serialize(resp: &Response, head_only: bool, extra: &[(String, String)]) -> Vec<u8> {
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

/// Where the request head ends (after its blank line), if it has.
pub(super) fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// What a complete head is.
pub(super) enum Parsed {
    Ok(Request),
    Bad(Response),
}

pub(super) fn parse(head: &[u8]) -> Parsed {
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
