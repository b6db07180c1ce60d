//! GATString. (Being written.)

use std::ffi::CString;

pub(crate) struct StringObj {
    pub(crate) text: CString,
}

impl StringObj {
    pub(crate) fn new(text: &str) -> Self {
        StringObj { text: super::boundary::c_string(text) }
    }
}
