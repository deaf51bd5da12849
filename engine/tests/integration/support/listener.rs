//! A listener on a mount, as a player is: it asks, then keeps what it receives until the server
//! ends the stream. Shared with the app's end-to-end tests.

use std::time::Duration;

use icecream_engine::net::Endpoint;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A listener on a mount, saving what it receives until the server ends the stream.
pub struct Listener {
    task: tokio::task::JoinHandle<Vec<u8>>,
}

impl Listener {
    pub async fn connect(ep: &Endpoint, mount: &str) -> Listener {
        Listener::try_connect(ep, mount)
            .await
            .expect("listener gets an answer")
    }

    /// Once the mount serves listeners: Icecast drops a WebM listener that comes before the
    /// stream's first Cluster, although the mount is listed from the source's login.
    pub async fn connect_when_served(ep: &Endpoint, mount: &str) -> Listener {
        for _ in 0..50 {
            if let Some(l) = Listener::try_connect(ep, mount).await {
                return l;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{mount} never served a listener");
    }

    async fn try_connect(ep: &Endpoint, mount: &str) -> Option<Listener> {
        let mut conn = icecream_engine::net::connect(ep)
            .await
            .expect("listener connects");
        let req = format!(
            "GET {mount} HTTP/1.0\r\nHost: {}\r\nIcy-MetaData: 0\r\n\r\n",
            ep.authority()
        );
        conn.write_all(req.as_bytes()).await.unwrap();
        let head = icecream_engine::net::read_head(&mut conn).await.unwrap()?;
        assert_eq!(head.status, 200, "listener was refused: {head:?}");
        let task = tokio::spawn(async move {
            let mut body = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(90), conn.read_to_end(&mut body)).await;
            body
        });
        Some(Listener { task })
    }

    /// Leaves the mount, as a player that is closed: the connection closes now.
    pub fn leave(self) {
        self.task.abort();
    }

    /// Everything received, once the server has closed the stream.
    pub async fn finish(self) -> Vec<u8> {
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("the server ends the listener's stream")
            .unwrap()
    }
}
