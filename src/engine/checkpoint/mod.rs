//! Checkpoints: the store of state generations and their manifests. The mechanisms (cooperative,
//! later transparent) and migration build on this.

pub mod cooperative;
pub mod manifest;
pub mod protocol;
pub mod store;

pub use manifest::{FileEntry, Manifest};
pub use store::CheckpointStore;
