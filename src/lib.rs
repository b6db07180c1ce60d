//! libgat: the GridLab Grid Application Toolkit (GAT) job-management C API, in Rust.
//!
//! Three layers, each with one job:
//! - `ffi`: the C ABI. Every exported function goes through `ffi::boundary`, which catches
//!   panics, checks handles (a registry of live handles: NULL, wrong-type and destroyed handles
//!   are errors, not crashes), maps errors to GATResult in one place (`ffi::result`) and records
//!   the calling thread's last-error text.
//! - `engine`: safe Rust holding the logic once for every adaptor: descriptions, resource choice,
//!   job tracking, the journal, checkpoints and migration.
//! - adaptors (crates under `adaptors/`): primitives on one kind of resource behind the
//!   `gat_adaptor::Adaptor` trait.
//!
//! Ownership: every handle returned by a `_Create` is the caller's and is released with the
//! matching `_Destroy(&handle)`. Query results returned as `_const` belong to the object they came
//! from. Threads: every call may be made from any thread; objects lock internally.

pub mod engine;
pub mod ffi;
