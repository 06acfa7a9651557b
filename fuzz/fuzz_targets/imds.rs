//! Arbitrary bytes as an HTTP request to the instance metadata service: always an
//! HTTP/1.1 answer; never a panic.
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use vpclab_dataplane_core::services::{self, ServiceData, imds};

mod lab;

fn data() -> &'static (ServiceData, u32, Mutex<imds::Tokens>) {
    static DATA: OnceLock<(ServiceData, u32, Mutex<imds::Tokens>)> = OnceLock::new();
    DATA.get_or_init(|| {
        let lab = lab::lab();
        (services::compile(&lab.model, &lab.ports), lab.instances[0], Mutex::new(imds::Tokens::new(1)))
    })
}

fuzz_target!(|bytes: &[u8]| {
    let (data, port, tokens) = data();
    let instance = data.instance(*port).expect("the lab's instance");
    if let Some(end) = imds::complete(bytes) {
        assert!(end <= bytes.len());
    }
    let (response, _) = imds::respond(instance, *port, &mut tokens.lock().unwrap(), bytes, 0);
    assert!(response.starts_with(b"HTTP/1.1 "));
});
