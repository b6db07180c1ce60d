//! The one way into the library from C: every exported function runs its body through `call`,
//! `create` or `destroy`, which catch panics, turn errors into GATResult codes and record the
//! calling thread's last-error text. Helpers here convert C strings and check out-pointers.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::handle::{self, Obj};
use super::result::{result_of, GAT_FAIL};
use super::types::{GATResult, GATType, GAT_SUCCESS};
use crate::engine::{Error, Result};

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

pub(crate) fn set_last_error(function: &str, message: &str) {
    let text = format!("{function}: {message}");
    tracing::debug!(target: "gat::ffi", "{text}");
    LAST_ERROR.with(|e| *e.borrow_mut() = text);
}

pub(crate) fn last_error() -> String {
    LAST_ERROR.with(|e| e.borrow().clone())
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("internal error (please report): {what}")
}

/// Run the body of a GATResult-returning function.
pub(crate) fn call(function: &str, body: impl FnOnce() -> Result<()>) -> GATResult {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => GAT_SUCCESS,
        Ok(Err(e)) => {
            set_last_error(function, &e.to_string());
            result_of(&e)
        }
        Err(p) => {
            set_last_error(function, &panic_text(p.as_ref()));
            GAT_FAIL
        }
    }
}

/// Run the body of a function that returns a value (a `_Create`, a getter returning a pointer or
/// a number); on failure the value is `fallback` and the reason is the last error.
pub(crate) fn value<T>(function: &str, fallback: T, body: impl FnOnce() -> Result<T>) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            set_last_error(function, &e.to_string());
            fallback
        }
        Err(p) => {
            set_last_error(function, &panic_text(p.as_ref()));
            fallback
        }
    }
}

/// Run a `_Create`: the new object is registered and its handle returned, NULL on failure.
pub(crate) fn create<T>(function: &str, body: impl FnOnce() -> Result<Obj>) -> *mut T {
    value(function, std::ptr::null_mut(), || body().map(handle::register::<T>))
}

/// Run a `_Destroy(&handle)`: NULL and `*handle == NULL` are accepted; the handle is set to NULL.
/// Destroying something that is not a live handle of this class is refused (and recorded as the
/// last error) without touching memory.
pub(crate) fn destroy<T>(function: &str, handle_ptr: *mut *mut T, wanted: GATType) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if handle_ptr.is_null() {
            return;
        }
        // SAFETY: non-NULL pointer to a handle variable, provided by the caller per the API.
        let h = unsafe { *handle_ptr };
        if h.is_null() {
            return;
        }
        match handle::unregister(h, wanted, "the handle") {
            Ok(obj) => drop(obj),
            Err(e) => {
                set_last_error(function, &e.to_string());
                // Leave the variable alone while it still names a live object (borrowed, or
                // another class): the caller may still use or destroy it properly.
                if handle::lookup(h, handle::GATType_GATObject_ANY, "").is_err() {
                    // SAFETY: as above.
                    unsafe { *handle_ptr = std::ptr::null_mut() };
                }
                return;
            }
        }
        // SAFETY: as above.
        unsafe { *handle_ptr = std::ptr::null_mut() };
    }));
}

/// A live handle of class `wanted`.
pub(crate) fn obj<T>(ptr: *const T, wanted: GATType, what: &str) -> Result<Arc<Obj>> {
    handle::lookup(ptr, wanted, what)
}

/// Read a C string argument: NULL and invalid UTF-8 are errors naming `what`.
pub(crate) fn str_arg<'a>(ptr: *const c_char, what: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(Error::InvalidParameter(format!("{what} is NULL")));
    }
    // SAFETY: the caller passes a NUL-terminated string per the API contract.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str()
        .map_err(|_| Error::InvalidEncoding(format!("{what} is not valid UTF-8")))
}

/// Check an out-pointer and write `value` through it (only on success, per the contract).
pub(crate) fn write_out<T>(out: *mut T, what: &str, value: T) -> Result<()> {
    if out.is_null() {
        return Err(Error::InvalidParameter(format!("{what} (the out-parameter) is NULL")));
    }
    // SAFETY: non-NULL, and the caller passes a pointer to writable storage of type T.
    unsafe { out.write(value) };
    Ok(())
}

/// Fail early on a NULL out-pointer, before doing work whose result could not be handed back.
pub(crate) fn check_out<T>(out: *mut T, what: &str) -> Result<()> {
    if out.is_null() {
        Err(Error::InvalidParameter(format!("{what} (the out-parameter) is NULL")))
    } else {
        Ok(())
    }
}

/// A Rust string as a C string. Interior NULs cannot come from C input; from elsewhere they are
/// cut at the first NUL rather than failing.
pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|e| {
        let end = e.nul_position();
        CString::new(&s[..end]).expect("no NUL before the first NUL")
    })
}
