//! Between the encoder and the network. The encoder's output is read as fast as it comes, whatever
//! the server is doing, and put here with the moment it was made; one sender takes it in order and
//! delivers it (`Uplink::deliver` drops what the network cannot carry in time). So a slow or absent
//! server never stalls the encoder, and what waits here is bounded by time, not by the network.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{watch, Notify};

use crate::media::format::{self, MountFormat};

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
    pub(super) gave_up: watch::Sender<bool>,
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

    pub(super) async fn next(&self) -> Option<Item> {
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
/// several senders. A destination that has given up gets no more; the others go on. A destination
/// started again while live joins with a new outbox (`join`).
pub(crate) struct Lanes {
    format: MountFormat,
    lanes: Mutex<Joined>,
    /// When the stream first had output (an encoder that dies before that cannot be helped by a
    /// restart).
    pub made_output: std::sync::OnceLock<Instant>,
    /// True once no destination of the broadcast is on air: nothing can join any more, so the
    /// stream need not be made.
    over: watch::Receiver<bool>,
}

#[derive(Default)]
struct Joined {
    outboxes: Vec<Arc<Outbox>>,
    /// The stream's header as far as it has been made: a destination that joins later gets it
    /// before the stream's next point a listener can start at.
    header: format::HeaderCache,
    closed: bool,
}

/// A stream header longer than this is not one (a broken encoder): it is not kept for joiners.
const MAX_HEADER: usize = 1 << 20;

/// How a destination joins a stream under way.
pub(crate) enum Joining {
    /// The stream's header is complete: send it, then the stream from its next resume point.
    Resume(Vec<u8>),
    /// The header was not complete yet: the new outbox holds the stream from its first byte.
    FromStart,
}

impl Lanes {
    /// A stream with no destination yet (they `join`); `over` says when the broadcast has none
    /// on air any more.
    pub fn new(format: MountFormat, over: watch::Receiver<bool>) -> Self {
        Lanes {
            format,
            lanes: Default::default(),
            made_output: Default::default(),
            over,
        }
    }

    pub fn push(&self, item: Item) {
        let _ = self.made_output.set(Instant::now());
        let mut joined = self.lanes.lock().expect("lanes lock");
        if let Item::Output(bytes, _) = &item {
            let header = &mut joined.header;
            if !header.feed(self.format, bytes) && header.bytes.len() > MAX_HEADER {
                header.done = true;
            }
        }
        joined.outboxes.retain(|l| !*l.gave_up.borrow());
        if let Some((last, others)) = joined.outboxes.split_last() {
            for lane in others {
                lane.push(item.clone());
            }
            last.push(item);
        }
    }

    /// A destination starts taking this stream while it is under way. None: the stream has ended.
    pub fn join(&self, lane: Arc<Outbox>) -> Option<Joining> {
        let mut joined = self.lanes.lock().expect("lanes lock");
        if joined.closed {
            return None;
        }
        let header = &joined.header;
        let how = match header.done {
            true => Joining::Resume(header.bytes.clone()),
            false => {
                if !header.bytes.is_empty() {
                    lane.push(Item::Output(header.bytes.clone(), Instant::now()));
                }
                Joining::FromStart
            }
        };
        joined.outboxes.push(lane);
        Some(how)
    }

    pub fn close(&self) {
        let mut joined = self.lanes.lock().expect("lanes lock");
        joined.closed = true;
        for lane in &joined.outboxes {
            lane.close();
        }
    }

    /// Returns once no destination of the broadcast is on air any more (each stopped or given
    /// up): the stream has nobody to go to, now or later.
    pub async fn given_up(&self) {
        let _ = self.over.clone().wait_for(|over| *over).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(item: Option<Item>) -> Vec<u8> {
        match item {
            Some(Item::Output(bytes, _)) => bytes,
            _ => panic!("an output item"),
        }
    }

    #[tokio::test]
    async fn a_late_destination_gets_the_header_or_the_stream_from_its_start() {
        let (_over_tx, over) = watch::channel(false);
        let lanes = Lanes::new(MountFormat::OggOpus, over);
        let header_pages = [b"OggS".as_slice(), &[0, 2], &[0; 8], b"OpusHead"].concat();
        let audio_page = [b"OggS".as_slice(), &[0, 0], &960u64.to_le_bytes(), b"audio"].concat();

        // Joined while the header is under way: the header so far comes first, then the rest.
        lanes.push(Item::Output(header_pages[..6].to_vec(), Instant::now()));
        let early = Arc::new(Outbox::default());
        assert!(matches!(lanes.join(early.clone()), Some(Joining::FromStart)));
        lanes.push(Item::Output(header_pages[6..].to_vec(), Instant::now()));
        lanes.push(Item::Output(audio_page.clone(), Instant::now()));
        let got = [
            output(early.next().await),
            output(early.next().await),
            output(early.next().await),
        ];
        assert_eq!(got.concat(), [header_pages.clone(), audio_page.clone()].concat());

        // Joined after it: the header whole, to send before the next resume point.
        let late = Arc::new(Outbox::default());
        let Some(Joining::Resume(header)) = lanes.join(late.clone()) else {
            panic!("the header is known");
        };
        assert_eq!(header, header_pages);
        lanes.push(Item::Output(audio_page.clone(), Instant::now()));
        assert_eq!(output(late.next().await), audio_page);

        // A destination that gave up gets no more; once closed, nobody joins.
        late.stop();
        lanes.push(Item::Output(audio_page.clone(), Instant::now()));
        assert!(late.next().await.is_none(), "stopped: nothing more");
        lanes.close();
        assert!(lanes.join(Arc::new(Outbox::default())).is_none());
    }
}
