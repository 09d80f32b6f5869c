//! Shared by the load generators (`examples/load.rs`, `examples/failover-load.rs`,
//! included with `#[path]`): a minimal HTTP/1.1 keep-alive client for loopback (the SP's
//! own answers only) and the two scrapers of the SP's auto-submit login page.

// Each example uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine as _;

/// One keep-alive connection to the SP.
pub struct Conn {
    addr: String,
    reader: BufReader<TcpStream>,
}

/// An answer: status, `Set-Cookie` values and body.
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Every `Set-Cookie` header value.
    pub set_cookie: Vec<String>,
    /// The body (`Content-Length` framed).
    pub body: Vec<u8>,
}

impl Conn {
    /// Connects (no delay, 10 s timeouts).
    pub fn open(addr: &str) -> std::io::Result<Conn> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_write_timeout(Some(Duration::from_secs(10)))?;
        Ok(Conn {
            addr: addr.to_owned(),
            reader: BufReader::with_capacity(64 * 1024, s),
        })
    }

    /// Sends one request (`head` is the request line) and reads the answer.
    pub fn request(&mut self, head: &str, body: &[u8]) -> std::io::Result<Reply> {
        let s = self.reader.get_mut();
        let mut req = Vec::with_capacity(head.len() + body.len() + 128);
        req.extend_from_slice(head.as_bytes());
        req.extend_from_slice(format!("Host: {}\r\n", self.addr).as_bytes());
        if !body.is_empty() {
            req.extend_from_slice(
                format!(
                    "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                    body.len()
                )
                .as_bytes(),
            );
        }
        req.extend_from_slice(b"\r\n");
        req.extend_from_slice(body);
        s.write_all(&req)?;

        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no status line"))?;
        let mut length = 0usize;
        let mut set_cookie = Vec::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(bad("connection closed in headers"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                if k == "content-length" {
                    length = v.trim().parse().map_err(|_| bad("content-length"))?;
                } else if k == "transfer-encoding" {
                    return Err(bad("chunked answers not supported"));
                } else if k == "set-cookie" {
                    set_cookie.push(v.trim().to_owned());
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok(Reply {
            status,
            set_cookie,
            body,
        })
    }
}

/// The value of the hidden form field `name` in an HTML page.
pub fn field(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    let end = page.get(start..)?.find('"')? + start;
    page.get(start..end).map(str::to_owned)
}

/// The `ID` of the base64-encoded AuthnRequest.
pub fn request_id(saml_request_b64: &str) -> Option<String> {
    let xml = base64::engine::general_purpose::STANDARD
        .decode(saml_request_b64)
        .ok()?;
    let xml = String::from_utf8(xml).ok()?;
    let start = xml.find(" ID=\"")? + 5;
    let end = xml.get(start..)?.find('"')? + start;
    xml.get(start..end).map(str::to_owned)
}
