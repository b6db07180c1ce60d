//! (being written)
pub(crate) struct JobObj {}
