//! Between the encoder and the network. The encoder's output is read as fast as it comes, whatever
//! the server is doing, and put here with the moment it was made; one sender takes it in order and
//! delivers it (`Uplink::deliver` drops what the network cannot carry in time). So a slow or absent
//! server never stalls the encoder, and what waits here is bounded by time, not by the network.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{watch, Notify};

use crate::icecast::IcecastError;
use crate::link::Uplink;

#[derive(Clone)]
pub(crate) enum Item {
    Output(Vec<u8>, Instant),
    /// A new encoder's output follows.
    EncoderRestarted,
}

pub(crate) struct Outbox {
    queue: Mutex<(VecDeque<Item>, bool)>,
    ready: Notify,
    /// Set when the sender has given up on the server: nothing more can be delivered.
    gave_up: watch::Sender<bool>,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox {
            queue: Default::default(),
            ready: Notify::new(),
            gave_up: watch::Sender::new(false),
        }
    }
}

impl Outbox {
    /// Returns once the sender has given up on the server.
    pub async fn given_up(&self) {
        let _ = self.gave_up.subscribe().wait_for(|g| *g).await;
    }

    pub fn push(&self, item: Item) {
        let mut q = self.queue.lock().expect("outbox lock");
        // Closed: this destination was stopped while the stream goes on to others.
        if !q.1 {
            q.0.push_back(item);
        }
        drop(q);
        self.ready.notify_one();
    }

    /// This destination is stopped while the stream goes on: what is queued is still delivered,
    /// nothing more is taken, and its stream no longer waits for it.
    pub fn stop(&self) {
        self.close();
        self.gave_up.send_replace(true);
    }

    /// Nothing more will come; the sender ends the stream once it has delivered the rest.
    pub fn close(&self) {
        self.queue.lock().expect("outbox lock").1 = true;
        self.ready.notify_one();
    }

    async fn next(&self) -> Option<Item> {
        loop {
            {
                let mut q = self.queue.lock().expect("outbox lock");
                if let Some(item) = q.0.pop_front() {
                    return Some(item);
                }
                if q.1 {
                    return None;
                }
            }
            self.ready.notified().await;
        }
    }
}

/// One stream's output, handed to the outbox of every destination that carries it: one encode,
/// several senders. A destination that has given up gets no more; the others go on.
pub(crate) struct Lanes {
    lanes: Vec<Arc<Outbox>>,
    /// When the stream first had output (an encoder that dies before that cannot be helped by a
    /// restart).
    pub made_output: std::sync::OnceLock<Instant>,
}

impl Lanes {
    pub fn new(lanes: Vec<Arc<Outbox>>) -> Self {
        Lanes {
            lanes,
            made_output: Default::default(),
        }
    }

    pub fn push(&self, item: Item) {
        let _ = self.made_output.set(Instant::now());
        let open: Vec<&Arc<Outbox>> = self.lanes.iter().filter(|l| !*l.gave_up.borrow()).collect();
        if let Some((last, others)) = open.split_last() {
            for lane in others {
                lane.push(item.clone());
            }
            last.push(item);
        }
    }

    pub fn close(&self) {
        for lane in &self.lanes {
            lane.close();
        }
    }

    /// Returns once every destination of this stream has given up on its server.
    pub async fn given_up(&self) {
        for lane in &self.lanes {
            lane.given_up().await;
        }
    }
}

/// Delivers everything put in the outbox until it is closed and empty, then ends the stream.
pub(crate) async fn send_all(mut uplink: Uplink, outbox: Arc<Outbox>) -> Result<(), IcecastError> {
    let delivered = async {
        while let Some(item) = outbox.next().await {
            match item {
                Item::Output(data, made) => uplink.deliver(&data, made).await?,
                Item::EncoderRestarted => uplink.encoder_restarted(),
            }
        }
        Ok(())
    }
    .await;
    if delivered.is_err() {
        outbox.gave_up.send_replace(true);
    }
    delivered?;
    uplink.end().await
}
