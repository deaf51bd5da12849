//! What a server's answers to a source login mean, whenever they come.
//!
//! Servers differ in when they answer a `PUT` sent with `Expect: 100-continue`:
//! - Icecast 2.4.4 and 2.5 send `100 Continue` once the login is accepted, and nothing after it
//!   (2.5 adds `Connection: Close` to that 100 but keeps the connection).
//! - Icecast-KH sends `100 Continue` *before* it checks the password, then at once
//!   `401 Authentication Required` and a close, or `200 OK` once the first bytes of the stream arrive.
//! - Refusals (wrong password, mount in use, format refused) come as the first answer on the others.
//!
//! So a `100` is a login only when no refusal follows it. The answers are read as they come, into a
//! buffer, from the moment of the login until the stream is well under way: a head may arrive split
//! across reads, and reading must never take bytes that are not there yet.

use crate::icecast::IcecastError;
use crate::net::{self, Head};

/// What the server has said so far, as far as the login is concerned.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing said yet, or only that it goes on (`100`, `200`).
    Accepted,
    Refused(IcecastError),
}

/// Bytes the server sent after its first answer, read without waiting.
#[derive(Default)]
pub struct Answers {
    buf: Vec<u8>,
    /// Set once a refusal has been read: later bytes are its body, not new answers.
    refused: Option<IcecastError>,
    /// The server answered as Icecast-KH does (see `is_icecast_kh`).
    pub icecast_kh: bool,
}

/// Icecast-KH's `200 OK` to a source carries its default headers, among them PHP's old
/// `Expires` date; newer KH builds name themselves ("Icecast 2.4.0-kh23") in `Server`. No other
/// server measured sends either.
pub fn is_icecast_kh(head: &Head) -> bool {
    head.header("expires") == Some("Thu, 19 Nov 1981 08:52:00 GMT")
        || head.header("server").is_some_and(|s| s.contains("-kh"))
}

/// A server that sends more than this after the login is not answering a login any more.
const MAX_ANSWERS: usize = 16 * 1024;

impl Answers {
    /// Takes bytes the server sent and tells what they mean. `refuse` turns a final head (and the
    /// body bytes that came with it) into the error a person reads.
    pub fn feed(&mut self, bytes: &[u8], refuse: impl Fn(&Head, &[u8]) -> IcecastError) -> Verdict {
        if let Some(e) = &self.refused {
            return Verdict::Refused(e.clone());
        }
        self.buf.extend_from_slice(bytes);
        loop {
            let Some(end) = head_end(&self.buf) else {
                if self.buf.len() > MAX_ANSWERS {
                    self.buf.clear();
                }
                return Verdict::Accepted;
            };
            let Some(head) = net::parse_head(&self.buf[..end]) else {
                // Not HTTP: nothing a login can be refused with.
                self.buf.clear();
                return Verdict::Accepted;
            };
            self.icecast_kh |= is_icecast_kh(&head);
            match head.status {
                100 | 200 => {
                    let body = head
                        .header("content-length")
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if self.buf.len() < end + body {
                        return Verdict::Accepted;
                    }
                    self.buf.drain(..end + body);
                }
                _ => {
                    let e = refuse(&head, &self.buf[end..]);
                    self.refused = Some(e.clone());
                    return Verdict::Refused(e);
                }
            }
        }
    }
}

fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refuse(head: &Head, body: &[u8]) -> IcecastError {
        match head.status {
            401 => IcecastError::WrongPassword,
            _ => IcecastError::Refusal {
                reason: String::from_utf8_lossy(body).into(),
            },
        }
    }

    #[test]
    fn icecast_kh_wrong_password_follows_its_100() {
        let mut a = Answers::default();
        let bytes = b"HTTP/1.1 401 Authentication Required\r\nConnection: Close\r\nWWW-Authenticate: \
                      Basic realm=\"Icecast 2.4.0-kh22\"\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(a.feed(&bytes[..10], refuse), Verdict::Accepted);
        assert_eq!(
            a.feed(&bytes[10..], refuse),
            Verdict::Refused(IcecastError::WrongPassword)
        );
        assert_eq!(
            a.feed(b"more", refuse),
            Verdict::Refused(IcecastError::WrongPassword)
        );
    }

    #[test]
    fn icecast_kh_200_after_the_first_bytes_is_a_login() {
        let mut a = Answers::default();
        let ok = b"HTTP/1.1 200 OK\r\nServer: Icecast\r\nExpires: Thu, 19 Nov 1981 08:52:00 GMT\r\n\
                   Content-Length: 0\r\n\r\n";
        assert_eq!(a.feed(ok, refuse), Verdict::Accepted);
        assert!(a.buf.is_empty());
        assert!(a.icecast_kh);
        let mut plain = Answers::default();
        plain.feed(b"HTTP/1.0 200 OK\r\n\r\n", refuse);
        assert!(!plain.icecast_kh, "Icecast 2.4.4's bare 200 is not KH's");
    }

    #[test]
    fn a_refusal_after_a_200_with_a_body_is_still_read() {
        let mut a = Answers::default();
        let bytes =
            b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.0 403 Forbidden\r\n\r\nMountpoint in use";
        assert_eq!(
            a.feed(bytes, refuse),
            Verdict::Refused(IcecastError::Refusal {
                reason: "Mountpoint in use".into()
            })
        );
    }
}
