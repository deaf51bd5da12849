//! The listener count, read from the server's public status page (`/status-json.xsl`) every few
//! seconds while a broadcast runs. Not every server has that page: Liquidsoap's `input.harbor`
//! answers 404, as does a proxy that only forwards the mount. A server that says it has no status
//! page is not asked again for the rest of the broadcast; one whose page fails otherwise (away, an
//! error, a page that is not JSON) is asked less and less often until it answers. Either is logged
//! once, not at every request.

use std::time::Duration;

use tokio::sync::watch;

use crate::icecast::{self, IcecastError, Target};

/// The longest wait between two requests while they fail (unless the normal pace is slower).
const MAX_BACKOFF: Duration = Duration::from_secs(120);

/// What the poller knows about the listeners of this broadcast's mount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Listeners {
    /// The count the status page gave last; None while the mount is not listed there.
    pub count: Option<u32>,
    /// The server has no status page: the count stays unknown.
    pub not_reported: bool,
}

/// What to do after one request for the status page.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Ask again after this long.
    AskIn(Duration),
    /// The server has no status page: ask no more during this broadcast.
    Stop,
}

/// The pace of the requests, and what is worth a line in the log.
pub(super) struct Pace {
    every: Duration,
    server: String,
    /// Failed requests in a row.
    failures: u32,
}

impl Pace {
    pub fn new(every: Duration, server: String) -> Pace {
        Pace {
            every,
            server,
            failures: 0,
        }
    }

    /// After a request: when to make the next one, and what to log (once per change, not per request).
    pub fn after(&mut self, result: Result<(), &IcecastError>) -> (Next, Option<String>) {
        let server = &self.server;
        let e = match result {
            Ok(()) => {
                let note = (self.failures > 0).then(|| {
                    format!("The status page of {server} answers again: the listener count is shown.")
                });
                self.failures = 0;
                return (Next::AskIn(self.every), note);
            }
            Err(e) => e,
        };
        if let Some(answer) = missing_page(e) {
            return (
                Next::Stop,
                Some(format!(
                    "{server} has no status page (GET /status-json.xsl: {answer}), so the listener count \
                     is not reported for this broadcast."
                )),
            );
        }
        self.failures += 1;
        let note = (self.failures == 1).then(|| {
            format!(
                "The status page of {server} could not be read ({}); the listener count is asked for \
                 less often until it answers.",
                reason(e)
            )
        });
        let cap = MAX_BACKOFF.max(self.every);
        let wait = self
            .every
            .checked_mul(1u32 << self.failures.min(16))
            .map_or(cap, |w| w.min(cap));
        (Next::AskIn(wait), note)
    }
}

/// The server's answer when it says there is no status page: a 4xx (404 from Liquidsoap's harbor or
/// a proxy, 401/403 when the page is private). `icecast::fetch_status` puts the HTTP status first in
/// the answer of `NotIcecast` ("404 Not found"); a 200 that is not JSON says something else, and
/// may be Icecast 2.4.4's passing hiccup, so it only slows the requests down.
fn missing_page(e: &IcecastError) -> Option<&str> {
    let IcecastError::NotIcecast { answer, .. } = e else {
        return None;
    };
    let code: u16 = answer.split(' ').next()?.parse().ok()?;
    (400..500).contains(&code).then_some(answer.as_str())
}

fn reason(e: &IcecastError) -> String {
    match e {
        IcecastError::NotIcecast { answer, .. } => answer.clone(),
        other => other.to_string().trim_end_matches('.').to_string(),
    }
}

/// Reads the listener count of `target.mount` into `tx` until the task is dropped or the server
/// turns out to have no status page.
pub(super) async fn poll(target: Target, every: Duration, tx: watch::Sender<Listeners>) {
    let mut pace = Pace::new(every, target.endpoint.authority());
    loop {
        let result = icecast::fetch_status(&target.endpoint).await;
        if let Ok(doc) = &result {
            let count = icecast::mount_status(doc, &target.mount).map(|m| m.listeners);
            tx.send_modify(|l| l.count = count);
        }
        let (next, note) = pace.after(result.as_ref().map(|_| ()));
        if let Some(note) = note {
            log::info!("{note}");
        }
        match next {
            Next::AskIn(wait) => tokio::time::sleep(wait).await,
            Next::Stop => {
                tx.send_modify(|l| l.not_reported = true);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::net::Endpoint;
    use crate::secrets::Secret;

    fn not_icecast(answer: &str) -> IcecastError {
        IcecastError::NotIcecast {
            server: "127.0.0.1:8005".into(),
            answer: answer.into(),
        }
    }

    #[test]
    fn a_missing_page_stops_the_requests_and_is_logged_once() {
        let mut pace = Pace::new(Duration::from_secs(5), "127.0.0.1:8005".into());
        let (next, note) = pace.after(Err(&not_icecast("404 Not found")));
        assert_eq!(next, Next::Stop);
        assert_eq!(
            note.as_deref(),
            Some(
                "127.0.0.1:8005 has no status page (GET /status-json.xsl: 404 Not found), so the \
                 listener count is not reported for this broadcast."
            )
        );
        for answer in ["401 Unauthorized", "403 Forbidden"] {
            assert_eq!(pace.after(Err(&not_icecast(answer))).0, Next::Stop);
        }
    }

    #[test]
    fn failures_back_off_to_two_minutes_are_logged_once_and_an_answer_restores_the_pace() {
        let secs = Duration::from_secs;
        let mut pace = Pace::new(secs(5), "h:1".into());
        let refused = IcecastError::Net(crate::net::NetError::Refused { server: "h:1".into() });
        let (next, note) = pace.after(Err(&refused));
        assert_eq!(next, Next::AskIn(secs(10)));
        assert!(note
            .unwrap()
            .starts_with("The status page of h:1 could not be read (Nothing is accepting"));
        let mut waits = vec![];
        for _ in 0..6 {
            let (next, note) = pace.after(Err(&not_icecast("500 Internal Server Error")));
            assert_eq!(note, None, "logged once, not at every failure");
            let Next::AskIn(wait) = next else {
                panic!("a failing page is asked for again, later")
            };
            waits.push(wait.as_secs());
        }
        assert_eq!(waits, [20, 40, 80, 120, 120, 120]);
        let (next, note) = pace.after(Ok(()));
        assert_eq!(next, Next::AskIn(secs(5)));
        assert_eq!(
            note.as_deref(),
            Some("The status page of h:1 answers again: the listener count is shown.")
        );
        assert_eq!(pace.after(Ok(())), (Next::AskIn(secs(5)), None));
    }

    #[test]
    fn a_page_that_is_not_json_slows_down_but_does_not_stop() {
        let mut pace = Pace::new(Duration::from_millis(500), "h:1".into());
        let bad = not_icecast("a status page that is not valid JSON (expected value at line 1 column 1)");
        assert_eq!(pace.after(Err(&bad)).0, Next::AskIn(Duration::from_secs(1)));
        assert_eq!(pace.after(Err(&bad)).0, Next::AskIn(Duration::from_secs(2)));
    }

    #[test]
    fn a_slow_normal_pace_is_not_shortened_by_the_cap() {
        let mut pace = Pace::new(Duration::from_secs(600), "h:1".into());
        let refused = IcecastError::Net(crate::net::NetError::Refused { server: "h:1".into() });
        assert_eq!(pace.after(Err(&refused)).0, Next::AskIn(Duration::from_secs(600)));
    }

    /// A server on 127.0.0.1 that answers every request with `answer` and counts the requests.
    async fn server(answer: &'static str) -> (Target, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = vec![0u8; 2048];
                let _ = conn.read(&mut buf).await;
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = conn.write_all(answer.as_bytes()).await;
            }
        });
        let target = Target {
            endpoint: Endpoint::loopback(port),
            mount: "/live".into(),
            username: "source".into(),
            password: Secret::new("x"),
        };
        (target, requests)
    }

    #[tokio::test]
    async fn a_server_without_a_status_page_is_asked_once() {
        // What Liquidsoap 2.1's harbor answers to GET /status-json.xsl (its HTML body shortened).
        let (target, requests) =
            server("HTTP/1.0 404 Not found\r\nContent-Type: text/html\r\n\r\n<html></html>").await;
        let (tx, mut rx) = watch::channel(Listeners::default());
        let task = tokio::spawn(poll(target, Duration::from_millis(20), tx));
        tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|l| l.not_reported))
            .await
            .expect("the poller says the count is not reported")
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(task.is_finished(), "the poller stopped");
        assert_eq!(requests.load(Ordering::SeqCst), 1);
        assert_eq!(
            *rx.borrow(),
            Listeners {
                count: None,
                not_reported: true
            }
        );
    }

    #[tokio::test]
    async fn a_failing_status_page_is_asked_less_and_less_often() {
        let (target, requests) = server("HTTP/1.0 503 Service Unavailable\r\n\r\n").await;
        let (tx, rx) = watch::channel(Listeners::default());
        let task = tokio::spawn(poll(target, Duration::from_millis(20), tx));
        tokio::time::sleep(Duration::from_millis(1000)).await;
        // Every 20 ms would be ~50 requests; backing off (40, 80, 160, 320, 640 ms) makes 5 or 6.
        let n = requests.load(Ordering::SeqCst);
        assert!((2..=7).contains(&n), "{n} requests in one second");
        assert!(!task.is_finished(), "a failing page is still asked for, later");
        assert_eq!(*rx.borrow(), Listeners::default());
        task.abort();
    }

    #[tokio::test]
    async fn counts_are_read_at_the_normal_pace() {
        let (target, requests) = server(
            "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n\
             {\"icestats\":{\"source\":{\"listenurl\":\"http://127.0.0.1:1/live\",\"listeners\":4}}}",
        )
        .await;
        let (tx, mut rx) = watch::channel(Listeners::default());
        let task = tokio::spawn(poll(target, Duration::from_millis(50), tx));
        tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|l| l.count == Some(4)))
            .await
            .expect("the count is read")
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(requests.load(Ordering::SeqCst) >= 4, "still asked every 50 ms");
        assert!(!rx.borrow().not_reported);
        task.abort();
    }
}
