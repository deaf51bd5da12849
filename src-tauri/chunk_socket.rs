//! The page's recorder chunks to the broadcast over a WebSocket on 127.0.0.1.
//!
//! Why not only `invoke`: on Linux a Tauri call is a WebKit custom-scheme request served on the
//! main thread, a fixed 0.6–2 ms per call whatever its size, one after another to keep order
//! (bench/RESULTS.md). A WebSocket message goes from the page to WebKit's network process and down
//! a local socket with no round trip of its own: the page sends the next chunk without waiting for
//! the answer to the last, and TCP keeps them in order.
//!
//! Who may send: the listener is on 127.0.0.1 only, the path holds a fresh random token that only
//! our page gets (through `invoke`, which capabilities guard), and the Origin must be the app's own.
//! Any other request is refused before it becomes a WebSocket.
//!
//! What goes over it: each binary message is one chunk. The answers are text, in order: "+N" when
//! the next N chunks were taken (one answer for all that arrived together: each answer is an event
//! on the page's busy main thread), or the sentence saying why the next one was not (the same one
//! `push_chunk` gives).

use std::future::Future;
use std::net::Ipv4Addr;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// Where the app's page is served from: Linux and macOS (`tauri://`), Windows (`http://`).
const APP_ORIGINS: [&str; 3] = [
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
];

/// Larger than any chunk the engine takes, so that an oversized one still reaches the engine's check
/// and gets its sentence, instead of the connection dropping.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// The running listener; the page connects to `url`.
pub struct ChunkSocket {
    pub url: String,
}

impl ChunkSocket {
    /// Listens on a free port of 127.0.0.1 for the life of the app. `take` hands a chunk to the
    /// broadcast and says why it could not.
    pub async fn start<F, Fut>(take: F) -> std::io::Result<ChunkSocket>
    where
        F: Fn(Vec<u8>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let port = listener.local_addr()?.port();
        let path = format!("/chunks/{}", icecream_engine::icecast::local::random_password());
        let url = format!("ws://127.0.0.1:{port}{path}");
        tauri::async_runtime::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of file descriptors, say: do not spin while it lasts.
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                };
                tauri::async_runtime::spawn(serve(stream, path.clone(), take.clone()));
            }
        });
        Ok(ChunkSocket { url })
    }
}

// The handshake callback's types are tungstenite's: its refusal is a whole HTTP response.
#[allow(clippy::result_large_err)]
async fn serve<F, Fut>(stream: TcpStream, path: String, take: F)
where
    F: Fn(Vec<u8>) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    // Answers are a few bytes; without this each would wait for the page's next chunk's ACK.
    let _ = stream.set_nodelay(true);
    let admit = |request: &Request, response: Response| {
        if same(request.uri().path(), &path) && from_app(request) {
            Ok(response)
        } else {
            let mut refusal = ErrorResponse::new(None);
            *refusal.status_mut() = StatusCode::FORBIDDEN;
            Err(refusal)
        }
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let Ok(socket) = tokio_tungstenite::accept_hdr_async_with_config(stream, admit, Some(config)).await
    else {
        return;
    };
    let (mut answers, mut chunks) = socket.split();
    let mut taken = 0usize;
    loop {
        let next = match chunks.next().now_or_never() {
            Some(next) => next,
            None => {
                // Nothing more has arrived: say what was taken, in one answer for them all.
                if taken > 0 && answers.send(took(&mut taken)).await.is_err() {
                    break;
                }
                chunks.next().await
            }
        };
        let Some(Ok(message)) = next else { break };
        match message {
            Message::Binary(bytes) => match take(bytes.into()).await {
                Ok(()) => taken += 1,
                Err(sentence) => {
                    let answered = if taken > 0 {
                        answers.feed(took(&mut taken)).await.is_ok()
                    } else {
                        true
                    };
                    if !answered || answers.send(Message::text(sentence)).await.is_err() {
                        break;
                    }
                }
            },
            Message::Close(_) => break,
            _ => {}
        }
    }
}

/// "+N": the next N chunks were taken. (A refusal is its sentence, which never starts with "+".)
fn took(taken: &mut usize) -> Message {
    Message::text(format!("+{}", std::mem::take(taken)))
}

fn from_app(request: &Request) -> bool {
    request
        .headers()
        .get("origin")
        .and_then(|o| o.to_str().ok())
        .is_some_and(|o| APP_ORIGINS.contains(&o))
}

/// Compares the whole path whatever differs first, so timing does not tell how much of a guessed
/// token was right.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_compare_whole() {
        assert!(same("/chunks/abc", "/chunks/abc"));
        assert!(!same("/chunks/abd", "/chunks/abc"));
        assert!(!same("/chunks/ab", "/chunks/abc"));
    }
}
