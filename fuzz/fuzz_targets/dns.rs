//! Arbitrary bytes as a DNS query to the Amazon DNS server: an answer that parses, or
//! none; never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vpclab_dataplane_core::services::{self, ServiceData, dns};

mod lab;

fn data() -> &'static (ServiceData, u32) {
    static DATA: OnceLock<(ServiceData, u32)> = OnceLock::new();
    DATA.get_or_init(|| {
        let lab = lab::lab();
        (services::compile(&lab.model, &lab.ports), lab.instances[0])
    })
}

fuzz_target!(|bytes: &[u8]| {
    let (data, port) = data();
    let asker = data.instance(*port).expect("the lab's instance");
    let _ = dns::answer(bytes, asker, data);
});
