//! Packets one worker read for another: the hand-off between a forwarder's workers.
//!
//! A flow's state lives with one worker, its owner ([`crate::steer`]). A packet read by
//! another worker (rare: the kernel's queue steering puts a flow on its owner's queue)
//! is copied into one of the reader's preallocated frames and passed through a bounded
//! channel to the owner, which forwards it and gives the frame back. Nothing is
//! allocated per packet, and nothing blocks: with no free frame or a full inbox, the
//! packet is dropped and counted (`handoff_full`). Waking the owner is the caller's
//! business (an eventfd in the forwarder).

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};

use crate::counters::{Counters, DropReason};
use crate::engine::{Device, Engine, H, PACKET_BUFFER, Tick};
use crate::snapshot::Port;

/// Frames each worker can have in flight to other workers at once.
pub const HANDOFF_FRAMES: usize = 32;

/// A packet handed from the worker that read it to the worker that owns its flow.
#[derive(Debug)]
struct Parcel {
    /// The worker whose frame this is (it gets it back).
    origin: usize,
    /// The port the packet was read from.
    from: Port,
    /// Bytes of `frame` in use: virtio-net header and packet.
    len: usize,
    frame: Box<[u8]>,
}

/// One worker's ends of the hand-off channels.
#[derive(Debug)]
pub struct Handoff {
    /// This worker's index.
    me: usize,
    /// Packets other workers read for this one.
    inbox: Receiver<Parcel>,
    /// This worker's free frames, and the senders that return every worker's.
    free: Receiver<Box<[u8]>>,
    give_back: Vec<SyncSender<Box<[u8]>>>,
    /// Every worker's inbox.
    to: Vec<SyncSender<Parcel>>,
}

impl Handoff {
    /// The ends of `workers` workers, in worker order, each with [`HANDOFF_FRAMES`]
    /// frames of its own made here (none for a lone worker, which never hands off).
    pub fn for_workers(workers: usize) -> Vec<Handoff> {
        let frames = if workers > 1 { HANDOFF_FRAMES } else { 0 };
        let (to, inboxes): (Vec<_>, Vec<_>) =
            (0..workers).map(|_| mpsc::sync_channel(frames * workers)).unzip();
        let (give_back, free): (Vec<_>, Vec<_>) =
            (0..workers).map(|_| mpsc::sync_channel::<Box<[u8]>>(frames)).unzip();
        for pool in &give_back {
            for _ in 0..frames {
                let _ = pool.try_send(vec![0u8; H + PACKET_BUFFER].into_boxed_slice());
            }
        }
        inboxes
            .into_iter()
            .zip(free)
            .enumerate()
            .map(|(me, (inbox, free))| Handoff {
                me,
                inbox,
                free,
                give_back: give_back.clone(),
                to: to.clone(),
            })
            .collect()
    }

    /// Passes `frame` (virtio-net header and packet), read from `from`, to worker
    /// `owner`; false, and counted as dropped, when no frame is free or its inbox is
    /// full. The caller wakes `owner` after a pass.
    pub fn pass(&self, owner: usize, from: Port, frame: &[u8], counters: &Counters) -> bool {
        let Ok(mut spare) = self.free.try_recv() else {
            counters.drop(DropReason::HandoffFull);
            return false;
        };
        spare[..frame.len()].copy_from_slice(frame);
        let parcel = Parcel { origin: self.me, from, len: frame.len(), frame: spare };
        match self.to[owner].try_send(parcel) {
            Ok(()) => {
                counters.handed_off();
                true
            }
            Err(TrySendError::Full(parcel) | TrySendError::Disconnected(parcel)) => {
                counters.drop(DropReason::HandoffFull);
                let _ = self.give_back[self.me].try_send(parcel.frame);
                false
            }
        }
    }

    /// Forwards every packet handed to this worker through `engine`, writing what goes
    /// out whole itself, and gives each frame back to its worker; how many there were.
    pub fn deliver<D: Device>(&self, engine: &mut Engine<'_, D>, tick: Tick<'_>) -> usize {
        let mut delivered = 0;
        while let Ok(mut parcel) = self.inbox.try_recv() {
            engine.forward_and_send(tick, parcel.from, &mut parcel.frame, parcel.len);
            let _ = self.give_back[parcel.origin].try_send(parcel.frame);
            delivered += 1;
        }
        delivered
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::engine::Loopback;
    use crate::engine::tests::{Lab, frame};
    use crate::trace::{Probe, probe};

    #[test]
    fn a_packet_read_by_another_worker_is_forwarded_by_its_owner_and_its_frame_comes_back() {
        let lab = Lab::new(false);
        let (mut owner, _services) = lab.engine(1);
        let ends = Handoff::for_workers(2);
        let reader = Counters::default();
        let (web, app) = (lab.web, lab.app);
        let ping = probe(web.1, app.1, Probe::Ping);
        let (f, len) = frame(&ping);
        assert!(ends[0].pass(1, web.0, &f[..len], &reader));
        assert_eq!(reader.snapshot().handed_off, 1);
        assert_eq!(ends[0].deliver(&mut owner, lab.tick()), 0, "nothing for the reader");
        assert_eq!(ends[1].deliver(&mut owner, lab.tick()), 1);
        let written = owner.devices[app.0 as usize].as_ref().map(Loopback::take).unwrap();
        assert_eq!(written.len(), 1, "the owner wrote it to app");
        assert_eq!(&written[0][H + 12..H + 20], &ping[12..20], "the same packet");
        assert_eq!(written[0][H + 8], 63, "routed once, by the owner");
        assert_eq!(lab.counters.snapshot().rx_packets, 1, "counted once, by the owner");
        // Its frame is the reader's again: all of them can be in flight once more.
        for _ in 0..HANDOFF_FRAMES {
            assert!(ends[0].pass(1, web.0, &f[..len], &reader));
        }
    }

    #[test]
    fn with_every_frame_in_flight_a_packet_is_dropped_and_counted_until_one_comes_back() {
        let lab = Lab::new(false);
        let (mut owner, _services) = lab.engine(1);
        let ends = Handoff::for_workers(3);
        let reader = Counters::default();
        let (f, len) = frame(&probe(lab.web.1, lab.app.1, Probe::Ping));
        for _ in 0..HANDOFF_FRAMES {
            assert!(ends[0].pass(2, lab.web.0, &f[..len], &reader));
        }
        assert!(!ends[0].pass(2, lab.web.0, &f[..len], &reader), "no frame left");
        assert_eq!(reader.snapshot().dropped(DropReason::HandoffFull), 1);
        // Another reader's frames are its own.
        assert!(ends[1].pass(2, lab.web.0, &f[..len], &reader));
        assert_eq!(ends[2].deliver(&mut owner, lab.tick()), HANDOFF_FRAMES + 1);
        assert!(ends[0].pass(2, lab.web.0, &f[..len], &reader), "given back");
    }

    #[test]
    fn a_lone_worker_has_no_frames_to_hand_off() {
        let ends = Handoff::for_workers(1);
        let counters = Counters::default();
        let packet = probe(Ipv4Addr::new(10, 0, 1, 4), Ipv4Addr::new(10, 0, 2, 4), Probe::Ping);
        let (f, len) = frame(&packet);
        assert!(!ends[0].pass(0, 1, &f[..len], &counters));
        assert_eq!(counters.snapshot().dropped(DropReason::HandoffFull), 1);
    }
}
