//! (being written)
pub(crate) struct ResourceBrokerObj {}
