//! The broadcast's live figures, and the helper tasks that keep them, ended with their owner.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::icecast::Target;
use crate::session::uplink::link::Counters;
use crate::status::Status;

pub(super) async fn report_stats(
    status: Arc<watch::Sender<Status>>,
    counters: Arc<Counters>,
    target: Target,
    listener_poll: Duration,
) {
    let (listeners_tx, mut listeners_rx) = watch::channel(super::listeners::Listeners::default());
    let _poller = AbortOnDrop(tokio::spawn(super::listeners::poll(
        target,
        listener_poll,
        listeners_tx,
    )));
    // Bitrate over a sliding window of a few seconds: smooth enough to read, quick to show a drop.
    let mut window: std::collections::VecDeque<(Instant, u64)> = Default::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = Instant::now();
        let sent = counters.bytes_sent.load(Ordering::Relaxed);
        window.push_back((now, sent));
        while window.len() > 4 {
            window.pop_front();
        }
        let (t0, b0) = window[0];
        let dt = now.duration_since(t0).as_secs_f64();
        let kbps = if dt > 0.0 {
            (sent - b0) as f64 * 8.0 / dt / 1000.0
        } else {
            0.0
        };
        let listeners = *listeners_rx.borrow_and_update();
        status.send_modify(|s| {
            s.uptime_secs = counters.live_since.get().map_or(0, |t| t.elapsed().as_secs());
            s.bytes_sent = sent;
            s.bitrate_kbps = kbps;
            if listeners.count.is_some() {
                s.listeners = listeners.count;
            }
            s.listeners_not_reported = listeners.not_reported;
        });
    }
}

/// Ends a helper task together with the task that owns it.
pub(super) struct AbortOnDrop(pub(super) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
