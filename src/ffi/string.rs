//! GATString: an immutable string (a GATJobID is a GATString).

use std::ffi::{c_char, CString};

use super::boundary;
use super::handle::{Body, Obj};
use super::types::{GATString, GATString_const, GATType};

pub(crate) struct StringObj {
    pub(crate) text: CString,
}

impl StringObj {
    pub(crate) fn new(text: &str) -> Self {
        StringObj { text: super::boundary::c_string(text) }
    }

    /// The text as Rust sees it (it was valid UTF-8 when made).
    pub(crate) fn as_str(&self) -> String {
        self.text.to_string_lossy().into_owned()
    }
}

/// Create a string holding a copy of `text`. The caller owns it and releases it with
/// GATString_Destroy(). NULL (GAT_INVALID_PARAMETER) or text that is not UTF-8 gives NULL; the
/// reason is in the last-error text.
#[no_mangle]
pub unsafe extern "C" fn GATString_Create(text: *const c_char) -> GATString {
    boundary::create("GATString_Create", || {
        let text = boundary::str_arg(text, "text")?;
        Ok(Obj::new(Body::String(StringObj::new(text))))
    })
}

/// The NUL-terminated text of `string`, owned by it and valid until it is destroyed. NULL when
/// `string` is not a live GATString (the reason is in the last-error text).
#[no_mangle]
pub extern "C" fn GATString_GetBuffer(string: GATString_const) -> *const c_char {
    boundary::value("GATString_GetBuffer", std::ptr::null(), || {
        let obj = boundary::obj(string, GATType::GATType_GATString, "string")?;
        let Body::String(s) = &obj.body else { return Err(super::object::wrong_body("string")) };
        // The registry keeps the object alive after `obj` is dropped, so the buffer stays put.
        Ok(s.text.as_ptr())
    })
}

/// Release a string and set `*string` to NULL. NULL and `*string == NULL` are accepted; a
/// string owned by another object (a job id, a table value) is refused and left alone.
#[no_mangle]
pub unsafe extern "C" fn GATString_Destroy(string: *mut GATString) {
    boundary::destroy("GATString_Destroy", string, GATType::GATType_GATString)
}
