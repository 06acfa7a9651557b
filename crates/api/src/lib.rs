//! vpclab's EC2 API: the Query protocol (form-encoded `POST /`, XML replies) over the
//! shared [`vpclab_model::Model`], with state kept in an embedded database and changes
//! applied to the data plane.
//!
//! * [`params`]: `Action=…&Name.N=…&Filter.N.Name=…` parameters.
//! * [`xml`]: replies and AWS's error envelope.
//! * [`actions`]: one function per action, in a module per resource family, and the
//!   table naming them.
//! * [`service`]: a call from parameters to reply: the action on a copy of the model,
//!   stored before the reply, applied to the data plane.
//! * [`sts`]: STS `GetCallerIdentity` on the same endpoint.
//! * [`store`]: the redb database in the state directory.
//! * [`server`]: HTTP on tokio and hyper.

#![forbid(unsafe_code)]

pub mod actions;
mod date;
mod known_params;
mod mirror;
pub mod params;
pub mod server;
pub mod service;
pub mod sigv4;
pub mod store;
pub mod sts;
pub mod xml;

pub use service::{Reply, Service};
pub use store::Store;
