//! The journal: being written.
