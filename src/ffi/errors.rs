//! Result messages and the per-thread last-error text.

use std::ffi::c_char;

use super::boundary;
use super::result;
use super::types::GATResult;

/// A static, human-readable description of `rc`. Never NULL; never needs freeing.
#[no_mangle]
pub extern "C" fn GATResult_GetMessage(rc: GATResult) -> *const c_char {
    // One static NUL-terminated string per message, built once.
    static MESSAGES: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<&'static str, &'static std::ffi::CStr>>> =
        std::sync::OnceLock::new();
    let text = result::message(rc);
    let map = MESSAGES.get_or_init(Default::default);
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    map.entry(text)
        .or_insert_with(|| Box::leak(boundary::c_string(text).into_boxed_c_str()))
        .as_ptr()
}

/// Copy the calling thread's detailed text of its last failed call (which function, which
/// adaptor or host, what the OS or the batch system said) into `buf`, with snprintf semantics:
/// at most `len` bytes including the terminating NUL are written, and `buf` may be NULL when
/// `len` is 0. Returns the full length of the text (excluding the NUL), so a return value
/// >= `len` means the text was cut. An empty text means no call has failed on this thread.
#[no_mangle]
pub unsafe extern "C" fn GAT_GetLastErrorMessage(buf: *mut c_char, len: usize) -> usize {
    let text = boundary::last_error();
    let bytes = text.as_bytes();
    if !buf.is_null() && len > 0 {
        let n = bytes.len().min(len - 1);
        // SAFETY: the caller gives `len` writable bytes at `buf`.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
            *buf.add(n) = 0;
        }
    }
    bytes.len()
}
