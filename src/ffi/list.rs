//! (being written)
pub(crate) struct ListStringObj {}
