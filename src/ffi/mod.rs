//! The C ABI glue: one file per GAT class. Each exported function converts and checks its
//! pointers (through `boundary`), calls one engine method and maps the result. No logic, no I/O.
#![allow(non_snake_case, clippy::missing_safety_doc)]

pub mod types;
pub mod result;
pub(crate) mod boundary;
pub(crate) mod handle;

pub mod errors;
pub mod object;
pub mod context;
pub mod preferences;
pub mod table;
pub mod string;
pub mod list;
pub mod location;
pub mod time;
pub mod description;
pub mod broker;
pub mod resource;
pub mod job;
pub mod self_job;
