//! The network under the protocol: TCP or TLS to the server (with the person's trust decisions), and
//! the small HTTP client the status and admin requests use.
//!
//! A full HTTP client crate would not help with the source connection itself (an endless PUT body
//! after `100 Continue`), so the same small transport serves both.

mod conn;
mod error;
mod http;
pub mod tls;
pub mod trust;

pub use conn::{accepts, connect, Conn, Endpoint, Io, CONNECT_TIMEOUT};
pub use error::NetError;
pub use http::{get, parse_head, read_body, read_head, Head};
