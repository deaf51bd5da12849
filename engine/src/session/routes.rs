//! Each destination's own fate within one broadcast: its login, its sender (with its own reconnect
//! and back-pressure), its state and stats. The broadcast's status is made from theirs.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_util::future::{join_all, select_all};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::stats::{report_stats, AbortOnDrop};
use super::SessionError;
use crate::icecast::{self, IcecastError, SourceConnection, StreamHeaders, Target};
use crate::session::uplink::link::{send_all, Counters, Uplink};
use crate::session::uplink::outbox::{Joining, Lanes, Outbox};
use crate::settings::{Destination, Encode, Settings};
use crate::status::{DestinationStatus, State, Status};

/// One destination on its way to the server.
pub(super) struct Route {
    pub index: usize,
    pub name: String,
    pub target: Target,
    pub headers: StreamHeaders,
    pub encode: Encode,
    pub status: Arc<watch::Sender<Status>>,
    pub counters: Arc<Counters>,
    listener_poll: Duration,
    /// The stream it takes, once the broadcast has made it.
    lanes: OnceLock<Arc<Lanes>>,
    /// Where its stream's output waits for it, while it is connected.
    outbox: Mutex<Option<Arc<Outbox>>>,
    /// Its sender, while it has one: the last one started.
    sender: Mutex<Option<JoinHandle<Result<(), IcecastError>>>>,
    /// Stopped by the person while the others go on.
    stopped: AtomicBool,
}

impl Route {
    pub fn new(index: usize, settings: &Settings, d: &Destination, listener_poll: Duration) -> Route {
        Route {
            index,
            name: d.label(),
            target: Target::new(settings, d),
            headers: StreamHeaders::new(&settings.stream, d),
            encode: d.encode(&settings.encoding),
            status: Arc::new(watch::channel(Status::default()).0),
            counters: Arc::default(),
            listener_poll,
            lanes: Default::default(),
            outbox: Default::default(),
            sender: Default::default(),
            stopped: Default::default(),
        }
    }

    /// Connects it to its stream; `conn`, its login, if that passed.
    pub fn attach(self: &Arc<Self>, lanes: &Arc<Lanes>, conn: Option<SourceConnection>) {
        let _ = self.lanes.set(lanes.clone());
        if let Some(conn) = conn {
            assert!(self.join(lanes, conn).is_none(), "a new stream is open");
        }
    }

    /// Sends `lanes`' stream to `conn` from now on; the connection is handed back, unused, if the
    /// stream has ended.
    fn join(self: &Arc<Self>, lanes: &Lanes, conn: SourceConnection) -> Option<SourceConnection> {
        let outbox = Arc::new(Outbox::default());
        let Some(joining) = lanes.join(outbox.clone()) else {
            return Some(conn);
        };
        self.send(conn, outbox, joining);
        None
    }

    /// Starts it again while the broadcast goes on to the others: it logs in anew and takes the
    /// stream from its next point a listener can start at. Only once it has stopped or failed.
    pub async fn start_again(self: &Arc<Self>, over: &watch::Sender<bool>) -> Result<(), SessionError> {
        let Some(lanes) = self.lanes.get() else {
            return Err(SessionError::StillStarting);
        };
        // Claimed under the broadcast's own lock, so that it cannot end meanwhile for want of a
        // destination on air.
        let mut claimed = false;
        over.send_if_modified(|over| {
            if !*over && self.status.borrow().state.is_final() {
                self.stopped.store(false, SeqCst);
                self.status.send_modify(|s| {
                    s.state = State::Connecting;
                    s.certificate = None;
                });
                claimed = true;
            }
            false
        });
        if !claimed {
            return Err(match *over.borrow() {
                true => SessionError::Ended,
                false => SessionError::AlreadyOnAir,
            });
        }
        log::info!("{}: starting again while the broadcast goes on", self.name);
        let conn = match icecast::connect_source(&self.target, &self.headers).await {
            Ok(conn) => conn,
            Err(e) => {
                let e = SessionError::from(e);
                log::warn!("{}: {e}", self.name);
                self.fail(&e);
                return Err(e);
            }
        };
        if let Some(conn) = self.join(lanes, conn) {
            let _ = conn.close().await;
            self.status.send_modify(|s| s.state = State::Stopped);
            return Err(SessionError::Ended);
        }
        Ok(())
    }

    /// Its sender, to wait for at the end of the broadcast; None if it never connected.
    pub fn take_sender(&self) -> Option<JoinHandle<Result<(), IcecastError>>> {
        self.sender.lock().expect("sender lock").take()
    }

    /// Ends this destination's stream (what it was sent is delivered first) while the broadcast
    /// goes on to the others. False if it had already ended.
    pub fn stop(&self) -> bool {
        if self.status.borrow().state.is_final() || self.stopped.swap(true, SeqCst) {
            return false;
        }
        log::info!("{}: stopped, the broadcast goes on elsewhere", self.name);
        self.status.send_modify(|s| s.state = State::Stopping);
        if let Some(outbox) = self.outbox.lock().expect("outbox lock").as_ref() {
            outbox.stop();
        }
        true
    }

    /// This destination has ended for good, for `reason`.
    pub fn fail(&self, e: &SessionError) {
        self.status.send_modify(|s| {
            s.state = State::Failed {
                reason: e.to_string(),
            };
            if let SessionError::Icecast(e) = e {
                s.certificate = e.certificate_offer();
            }
        });
    }

    fn row(&self) -> DestinationStatus {
        DestinationStatus {
            index: self.index,
            name: self.name.clone(),
            listen_url: self.target.listen_url(),
            status: self.status.borrow().clone(),
        }
    }

    /// Sends what reaches `outbox` to this destination until the stream ends or the server is
    /// given up on; its stats are kept meanwhile. Its state ends Stopped or Failed.
    fn send(self: &Arc<Self>, conn: SourceConnection, outbox: Arc<Outbox>, joining: Joining) {
        let route = self.clone();
        *self.outbox.lock().expect("outbox lock") = Some(outbox.clone());
        if self.stopped.load(SeqCst) {
            outbox.stop();
        }
        let task = tokio::spawn(async move {
            let stats = AbortOnDrop(tokio::spawn(report_stats(
                route.status.clone(),
                route.counters.clone(),
                route.target.clone(),
                route.listener_poll,
            )));
            let uplink = Uplink::new(
                conn,
                (route.target.clone(), route.headers.clone()),
                route.encode.format,
                (route.counters.clone(), route.status.clone()),
                joining,
            );
            let sent = send_all(uplink, outbox).await;
            drop(stats);
            // Nothing flows any more: no bitrate stays on show.
            route.status.send_modify(|s| s.bitrate_kbps = 0.0);
            // Stopped by hand while its server was away: stopped all the same.
            let by_hand = route.stopped.load(SeqCst);
            match &sent {
                Err(e) if !by_hand => route.fail(&SessionError::Icecast(e.clone())),
                _ => route.status.send_modify(|s| s.state = State::Stopped),
            }
            if by_hand {
                return Ok(());
            }
            sent
        });
        *self.sender.lock().expect("sender lock") = Some(task);
    }
}

/// Logs in to every destination at once. Those refused are marked failed with their reason; when
/// every one is refused, so is the broadcast (with the first one's reason).
pub(super) async fn log_in(routes: &[Arc<Route>]) -> Result<Vec<Option<SourceConnection>>, SessionError> {
    let tries = join_all(
        routes
            .iter()
            .map(|r| icecast::connect_source(&r.target, &r.headers)),
    )
    .await;
    let mut first_error = None;
    let mut conns = Vec::with_capacity(routes.len());
    for (route, tried) in routes.iter().zip(tries) {
        match tried {
            Ok(conn) => conns.push(Some(conn)),
            Err(e) => {
                let e = SessionError::from(e);
                log::warn!("{}: {e}", route.name);
                route.fail(&e);
                first_error.get_or_insert(e);
                conns.push(None);
            }
        }
    }
    match first_error {
        Some(e) if conns.iter().all(Option::is_none) => Err(e),
        _ => Ok(conns),
    }
}

/// Keeps the broadcast's status made from its destinations' until it is dropped, and says when no
/// destination is on air any more (`over`): the broadcast then ends.
pub(super) fn compose(
    status: Arc<watch::Sender<Status>>,
    routes: &[Arc<Route>],
    over: Arc<watch::Sender<bool>>,
) -> AbortOnDrop {
    let routes: Vec<Arc<Route>> = routes.to_vec();
    AbortOnDrop(tokio::spawn(async move {
        let mut watching: Vec<watch::Receiver<Status>> =
            routes.iter().map(|r| r.status.subscribe()).collect();
        loop {
            let rows: Vec<DestinationStatus> = routes.iter().map(|r| r.row()).collect();
            status.send_modify(|s| sum_up(s, rows));
            over.send_if_modified(|over| {
                let ended = routes.iter().all(|r| r.status.borrow().state.is_final());
                let now_over = !*over && ended;
                *over |= ended;
                now_over
            });
            let changes = watching.iter_mut().map(|w| Box::pin(w.changed()));
            if select_all(changes).await.0.is_err() {
                return;
            }
        }
    }))
}

/// The broadcast as its destinations have it: live while any is, the first one's trouble
/// otherwise; stats added up. Stopping and the end are the session's to say.
fn sum_up(s: &mut Status, rows: Vec<DestinationStatus>) {
    let states = || rows.iter().map(|r| &r.status.state);
    let busy = !(s.state == State::Stopping || s.state.is_final());
    if busy && !states().all(State::is_final) {
        s.state = if states().any(|st| *st == State::Live) {
            State::Live
        } else if let Some(r) = states().find(|st| matches!(st, State::Reconnecting { .. })) {
            r.clone()
        } else {
            State::Connecting
        };
    }
    let all = || rows.iter().map(|r| &r.status);
    s.uptime_secs = all().map(|r| r.uptime_secs).max().unwrap_or(0);
    s.bytes_sent = all().map(|r| r.bytes_sent).sum();
    s.bitrate_kbps = all().map(|r| r.bitrate_kbps).sum();
    let counted: Vec<u32> = all().filter_map(|r| r.listeners).collect();
    s.listeners = (!counted.is_empty()).then(|| counted.iter().sum());
    s.listeners_not_reported = all().all(|r| r.listeners_not_reported);
    s.skipped_secs = all().map(|r| r.skipped_secs).max().unwrap_or(0);
    s.certificate = all().find_map(|r| r.certificate.clone());
    s.destinations = rows;
}

/// When the broadcast first reached a listener anywhere.
pub(super) fn live_since(routes: &[Arc<Route>]) -> Option<Instant> {
    routes
        .iter()
        .filter_map(|r| r.counters.live_since.get().copied())
        .min()
}
