//! Arbitrary bytes as an EC2 Query API request body: an XML answer with a status, a
//! model that stays valid; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpclab_api::Service;
use vpclab_model::Model;

fuzz_target!(|body: &[u8]| {
    let mut service = Service::new(Model::new(1), None, None, 1);
    // A VPC to act on, so requests naming resources get past "not found".
    service.handle(b"Action=CreateVpc&CidrBlock=10.0.0.0%2F16", 0);
    let reply = service.handle(body, 0);
    assert!((200..600).contains(&reply.status));
});
