//! Arbitrary bytes as a packet from any port, with any offload flags: the pipeline and
//! the worker-ownership function must decide, never panic, and never claim more bytes
//! than they were given.
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use vpclab_dataplane_core::wire::Offload;
use vpclab_dataplane_core::{INTERNET, REPLY_BUFFER, Tracking, Verdict, steer};

mod lab;

struct State {
    lab: lab::Lab,
    tracking: Mutex<Tracking>,
    fragments: steer::FragmentOwners,
}

fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| {
        let lab = lab::lab();
        let mut tracking = Tracking::for_worker(1 << 12, 0, 1);
        tracking.sync(&lab.snapshot);
        State { lab, tracking: Mutex::new(tracking), fragments: steer::FragmentOwners::new(64) }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, bytes)) = data.split_first() else { return };
    let state = state();
    let ports = &state.lab.instances;
    let from = match usize::from(control & 3) {
        0 => INTERNET,
        n => ports[(n - 1) % ports.len()],
    };
    let offload = Offload {
        partial_checksum: control & 4 != 0,
        gso_size: if control & 8 != 0 { u16::from(control >> 4) * 100 + 1 } else { 0 },
    };
    let workers = 2 + usize::from(control >> 6);
    let owner = steer::owner(&state.lab.snapshot, from, bytes, workers, &state.fragments);
    assert!(owner < workers);
    let mut packet = bytes.to_vec();
    let mut reply = vec![0u8; REPLY_BUFFER];
    let mut tracking = state.tracking.lock().unwrap();
    let now = u64::from(control) * 1000;
    match state.lab.snapshot.process_offloaded(&mut tracking, from, &mut packet, offload, &mut reply, now) {
        Verdict::Forward { len, .. } | Verdict::Service { len } => assert!(len <= bytes.len()),
        // Replies, and NAT64 translations, are built in the reply buffer.
        Verdict::Reply { len, .. } | Verdict::Translated { len, .. } => {
            assert!(len <= REPLY_BUFFER)
        }
        Verdict::Drop(_) => {}
    }
});
