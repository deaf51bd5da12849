//! Connecting to a WebDriver server that is still starting (chromedriver, tauri-driver): plain
//! HTTP on 127.0.0.1, retried until it answers or `patience` has passed. Shared by the browser
//! benchmark and tests and by the app's end-to-end tests.

use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};

/// A port nothing listens on now, for a driver to take.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A session on the driver at `url`; panics with `what` did not start if it never answers.
pub async fn connect(
    url: &str,
    caps: serde_json::Map<String, serde_json::Value>,
    patience: Duration,
    what: &str,
) -> Client {
    let deadline = Instant::now() + patience;
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(url)
            .await
        {
            Ok(c) => return c,
            Err(e) if Instant::now() > deadline => panic!("{what} did not start: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
