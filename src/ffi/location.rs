//! (being written)
pub(crate) struct LocationObj {}
