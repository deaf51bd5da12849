//! Firefox as a listener, spoken to in WebDriver BiDi: Firefox ESR serves it itself on
//! `--remote-debugging-port` (a WebSocket on 127.0.0.1), so no geckodriver is needed — Debian
//! packages none. Only what the listener tests use: a session, one tab, go to a page, run a
//! function in it. Hand-written because the Rust WebDriver clients speak only classic WebDriver
//! (HTTP); a request is one JSON line out and the answer with the same id back.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

pub struct Bidi {
    socket: Mutex<(WebSocketStream<MaybeTlsStream<TcpStream>>, u64)>,
    context: String,
}

/// Firefox ESR, headless, on a fresh profile in `profile`, listening for BiDi on `port`, in its
/// own process group so that it and its content processes end together.
pub fn spawn_firefox(binary: &str, profile: &std::path::Path, port: u16) -> Child {
    // Muted media may start by itself (as in a normal profile), and nothing of Mozilla's own
    // reaches the network: these tests talk only to 127.0.0.1.
    let prefs = [
        ("media.autoplay.default", "0"),
        ("media.autoplay.blocking_policy", "0"),
        ("browser.shell.checkDefaultBrowser", "false"),
        ("datareporting.policy.dataSubmissionEnabled", "false"),
        ("app.update.disabledForTesting", "true"),
        ("network.captive-portal-service.enabled", "false"),
        ("network.connectivity-service.enabled", "false"),
        ("browser.safebrowsing.malware.enabled", "false"),
        ("browser.safebrowsing.phishing.enabled", "false"),
        ("extensions.update.enabled", "false"),
    ];
    let user_js: String = prefs
        .iter()
        .map(|(k, v)| format!("user_pref(\"{k}\", {v});\n"))
        .collect();
    std::fs::write(profile.join("user.js"), user_js).unwrap();
    use std::os::unix::process::CommandExt;
    Command::new(binary)
        .args(["--headless", "--no-remote", "--profile"])
        .arg(profile)
        .arg(format!("--remote-debugging-port={port}"))
        .arg("--remote-allow-hosts=127.0.0.1")
        .env("MOZ_CRASHREPORTER_DISABLE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap()
}

impl Bidi {
    /// A BiDi session with the browser on `port`, retried until it answers or `patience` has
    /// passed; then the first tab goes to `page`.
    pub async fn connect(port: u16, patience: Duration, page: &str) -> Bidi {
        let deadline = Instant::now() + patience;
        let url = format!("ws://127.0.0.1:{port}/session");
        let socket = loop {
            match tokio_tungstenite::connect_async(url.as_str()).await {
                Ok((s, _)) => break s,
                Err(e) if Instant::now() > deadline => panic!("Firefox did not start: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        };
        let mut bidi = Bidi {
            socket: Mutex::new((socket, 0)),
            context: String::new(),
        };
        bidi.call("session.new", json!({ "capabilities": {} })).await;
        let tree = bidi.call("browsingContext.getTree", json!({})).await;
        bidi.context = tree["contexts"][0]["context"]
            .as_str()
            .expect("Firefox has a tab")
            .to_string();
        bidi.call(
            "browsingContext.navigate",
            json!({ "context": bidi.context, "url": page, "wait": "complete" }),
        )
        .await;
        bidi
    }

    /// One command and its result; panics with Firefox's own message on an error.
    async fn call(&self, method: &str, params: Value) -> Value {
        let mut guard = self.socket.lock().await;
        let (socket, last) = &mut *guard;
        *last += 1;
        let id = *last;
        let request = json!({ "id": id, "method": method, "params": params });
        socket
            .send(Message::text(request.to_string()))
            .await
            .expect("Firefox takes the command");
        loop {
            let message = socket
                .next()
                .await
                .expect("Firefox answers")
                .expect("Firefox's socket stays open");
            let Message::Text(text) = message else { continue };
            let answer: Value = serde_json::from_str(&text).expect("Firefox answers in JSON");
            // Events (none are subscribed to) and answers to other ids are not ours.
            if answer["id"] != json!(id) {
                continue;
            }
            if answer["type"] == "error" {
                panic!(
                    "Firefox refused {method}: {} {}",
                    answer["error"], answer["message"]
                );
            }
            return answer["result"].clone();
        }
    }

    /// Runs `body` as a function of `args` in the page, as classic WebDriver's execute does
    /// (`arguments`, `return`), and gives back what it returned, through JSON.
    pub async fn execute(&self, body: &str, args: Vec<Value>) -> Value {
        let function = format!(
            "function() {{ const r = (function() {{ {body} }}).apply(this, arguments); return JSON.stringify(r === undefined ? null : r); }}"
        );
        let arguments: Vec<Value> = args.into_iter().map(local_value).collect();
        let result = self
            .call(
                "script.callFunction",
                json!({
                    "functionDeclaration": function,
                    "arguments": arguments,
                    "target": { "context": self.context },
                    "awaitPromise": false,
                }),
            )
            .await;
        if result["type"] == "exception" {
            panic!("the page threw: {}", result["exceptionDetails"]["text"]);
        }
        let text = result["result"]["value"].as_str().unwrap_or("null");
        serde_json::from_str(text).expect("the page's answer is JSON")
    }
}

/// A JSON value as BiDi's serialised local value (the listener scripts take strings, numbers and
/// booleans).
fn local_value(v: Value) -> Value {
    match v {
        Value::String(s) => json!({ "type": "string", "value": s }),
        Value::Bool(b) => json!({ "type": "boolean", "value": b }),
        Value::Number(n) => json!({ "type": "number", "value": n }),
        Value::Null => json!({ "type": "null" }),
        other => panic!("a listener script takes no {other}"),
    }
}
