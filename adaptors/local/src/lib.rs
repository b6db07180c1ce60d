//! The local adaptor: being written.
