//! The mounts the engine writes itself: the recorder's WebM read block by block and each block
//! sent the moment it is complete, as WebM with keyframe-led Clusters or as Ogg Opus pages. No
//! ffmpeg runs, so nothing waits for an encoder's Cluster or page to fill.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::intake::Input;
use super::SessionError;
use crate::media::{MediaError, Remux};
use crate::session::uplink::link::Counters;
use crate::session::uplink::outbox::{Item, Lanes};
use crate::transcode::opus::PcmToOpus;

/// Until the input has ended and all of it is in the outbox, or the sender has given up on the
/// server (it then has the reason). With `opus`, the input is the capture's PCM, encoded first.
pub(super) async fn run(
    mut remux: Remux,
    mut opus: Option<PcmToOpus>,
    head: Vec<u8>,
    input: &mut Input,
    outbox: &Lanes,
    counters: &Counters,
    realtime: bool,
) -> Result<(), SessionError> {
    let given_up = outbox.given_up();
    tokio::pin!(given_up);
    // A finished file played live goes out at the media's own pace (recorder chunks already
    // arrive at it): block times against the clock since the first block.
    let mut clock: Clock = None;
    let mut next = Some(head);
    loop {
        let chunk = match next.take() {
            Some(c) => c,
            None => tokio::select! {
                c = input.next() => match c {
                    Some(c) => c,
                    None => break,
                },
                _ = &mut given_up => return Ok(()),
            },
        };
        counters.bytes_in.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        let chunk = match opus.as_mut() {
            Some(o) => o.push(&chunk)?,
            None => chunk,
        };
        let clock = realtime.then_some(&mut clock);
        if !queue_batch(outbox, &mut remux, &chunk, clock, given_up.as_mut()).await? {
            return Ok(());
        }
    }
    Ok(remux.finish()?)
}

/// Where a file played live is: when its first block went out, and that block's time.
pub(super) type Clock = Option<(tokio::time::Instant, i64)>;

/// Writes what `bytes` completes of the mount's stream into the outbox: the pieces of one batch
/// `Remux::piece_gap` apart (Ogg pages), or, with a `clock` (a file played live), each at its media
/// time. False: the sender gave up on the server meanwhile.
pub(super) async fn queue_batch<F: Future<Output = ()>>(
    outbox: &Lanes,
    remux: &mut Remux,
    bytes: &[u8],
    mut clock: Option<&mut Clock>,
    mut given_up: Pin<&mut F>,
) -> Result<bool, MediaError> {
    let gap = remux.piece_gap();
    for (n, piece) in remux.push_live(bytes)?.into_iter().enumerate() {
        let due = match (clock.as_deref_mut(), piece.time_ms) {
            (Some(clock), Some(t)) => {
                let (start, t0) = *clock.get_or_insert((tokio::time::Instant::now(), t));
                Some(start + std::time::Duration::from_millis((t - t0).max(0) as u64))
            }
            _ if n > 0 => gap.map(|g| tokio::time::Instant::now() + g),
            _ => None,
        };
        if let Some(due) = due {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = &mut given_up => return Ok(false),
            }
        }
        outbox.push(Item::Output(piece.bytes, Instant::now()));
    }
    Ok(true)
}
