//! The only crate in vpclab allowed to contain `unsafe` code.
//!
//! Everything that needs it lives here behind a safe API, each block with a
//! `// SAFETY:` comment (enforced by `clippy::undocumented_unsafe_blocks`):
//!
//! * [`alloc`]: a counting global allocator, so tests and benchmarks can prove that the
//!   hot path allocates nothing and measure how much memory a structure holds.

#![allow(unsafe_code)] // The workspace denies it; this crate is the exception.

pub mod alloc;
