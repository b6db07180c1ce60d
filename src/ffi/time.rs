//! (being written)
pub(crate) struct TimeObj {}
