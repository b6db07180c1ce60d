//! The conformance suite every adaptor must pass (placeholder; filled by the adaptor work).
