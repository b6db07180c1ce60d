//! GATList_String: an ordered list of strings, with GAT's iterator idiom for inserting.

use std::ffi::{c_char, CString};
use std::sync::Mutex;

use super::boundary;
use super::handle::{Body, Obj};
use super::types::{GATList_String, GATList_String_const, GATResult, GATType, GATint64, GATuint32};
use crate::engine::{Error, Result};

/// A position in a GATList_String: `position` is an index (GATList_String_Begin() gives 0), or
/// -1 for the end (GATList_String_End()). Inserting puts the new string before `position`;
/// inserting at the end appends.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GATList_String_Iterator {
    /// Index of the string the iterator is at; -1 is the end.
    pub position: GATint64,
}

/// The list keeps C strings, so a pointer handed out by GATList_String_Get stays valid while
/// other strings are inserted (the heap buffer of each string does not move).
pub(crate) struct ListStringObj {
    items: Mutex<Vec<CString>>,
}

impl ListStringObj {
    pub(crate) fn new(items: &[String]) -> Self {
        ListStringObj { items: Mutex::new(items.iter().map(|s| boundary::c_string(s)).collect()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<CString>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the strings (they were valid UTF-8 when inserted).
    pub(crate) fn snapshot(&self) -> Vec<String> {
        self.lock().iter().map(|c| c.to_string_lossy().into_owned()).collect()
    }

    fn insert(&self, position: GATint64, text: &str) -> Result<()> {
        let mut items = self.lock();
        let index = match position {
            -1 => items.len(),
            p if p >= 0 && (p as u64) <= items.len() as u64 => p as usize,
            p => {
                return Err(Error::InvalidParameter(format!(
                    "iterator position {p} is outside the list (size {}; -1 is the end)",
                    items.len()
                )))
            }
        };
        items.insert(index, boundary::c_string(text));
        Ok(())
    }

    fn get(&self, index: GATuint32) -> Result<*const c_char> {
        let items = self.lock();
        items.get(index as usize).map(|c| c.as_ptr()).ok_or_else(|| out_of_range(index, items.len()))
    }

    fn remove(&self, index: GATuint32) -> Result<()> {
        let mut items = self.lock();
        if (index as usize) < items.len() {
            items.remove(index as usize);
            Ok(())
        } else {
            Err(out_of_range(index, items.len()))
        }
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

fn out_of_range(index: GATuint32, len: usize) -> Error {
    Error::InvalidParameter(format!("index {index} is outside the list (size {len})"))
}

fn with_list<T>(list: GATList_String_const, f: impl FnOnce(&ListStringObj) -> Result<T>) -> Result<T> {
    let obj = boundary::obj(list, GATType::GATType_GATList_String, "list")?;
    let Body::ListString(l) = &obj.body else { return Err(super::object::wrong_body("list")) };
    f(l)
}

/// Create an empty list of strings. The caller owns it and releases it with
/// GATList_String_Destroy().
#[no_mangle]
pub extern "C" fn GATList_String_Create() -> GATList_String {
    boundary::create("GATList_String_Create", || Ok(Obj::new(Body::ListString(ListStringObj::new(&[])))))
}

/// The position of the first string (index 0). A bad handle gives the end position and a
/// last-error text.
#[no_mangle]
pub extern "C" fn GATList_String_Begin(list: GATList_String_const) -> GATList_String_Iterator {
    // Positions do not depend on the list's contents, but a bad handle is still reported.
    let end = GATList_String_Iterator { position: -1 };
    boundary::value("GATList_String_Begin", end, || {
        boundary::obj(list, GATType::GATType_GATList_String, "list")?;
        Ok(GATList_String_Iterator { position: 0 })
    })
}

/// The position after the last string: inserting there appends, as in
/// `GATList_String_Insert(l, GATList_String_End(l), s)`.
#[no_mangle]
pub extern "C" fn GATList_String_End(list: GATList_String_const) -> GATList_String_Iterator {
    // Positions do not depend on the list's contents, but a bad handle is still reported.
    let end = GATList_String_Iterator { position: -1 };
    boundary::value("GATList_String_End", end, || {
        boundary::obj(list, GATType::GATType_GATList_String, "list")?;
        Ok(GATList_String_Iterator { position: -1 })
    })
}

/// Insert a copy of `value` before `position`. Returns GAT_SUCCESS, GAT_INVALID_HANDLE,
/// GAT_INVALID_PARAMETER (NULL value, position outside the list) or GAT_INVALID_ENCODING.
#[no_mangle]
pub unsafe extern "C" fn GATList_String_Insert(
    list: GATList_String,
    position: GATList_String_Iterator,
    value: *const c_char,
) -> GATResult {
    boundary::call("GATList_String_Insert", || {
        with_list(list, |l| l.insert(position.position, boundary::str_arg(value, "value")?))
    })
}

/// The number of strings in the list; 0 (with a last-error text) when `list` is not a live
/// GATList_String.
#[no_mangle]
pub extern "C" fn GATList_String_Size(list: GATList_String_const) -> GATuint32 {
    boundary::value("GATList_String_Size", 0, || {
        with_list(list, |l| Ok(GATuint32::try_from(l.len()).unwrap_or(GATuint32::MAX)))
    })
}

/// The string at `index` (0-based), owned by the list: valid until that string is removed or
/// the list destroyed. NULL when the index is out of range or `list` is not a live list.
#[no_mangle]
pub extern "C" fn GATList_String_Get(list: GATList_String_const, index: GATuint32) -> *const c_char {
    boundary::value("GATList_String_Get", std::ptr::null(), || with_list(list, |l| l.get(index)))
}

/// (ext) Remove the string at `index`; pointers to it from GATList_String_Get() become invalid.
/// Returns GAT_SUCCESS, GAT_INVALID_HANDLE or GAT_INVALID_PARAMETER (index out of range).
#[no_mangle]
pub extern "C" fn GATList_String_Remove(list: GATList_String, index: GATuint32) -> GATResult {
    boundary::call("GATList_String_Remove", || with_list(list, |l| l.remove(index)))
}

/// Release a list and set `*list` to NULL. NULL and `*list == NULL` are accepted; a list owned
/// by another object (a table value) is refused and left alone.
#[no_mangle]
pub unsafe extern "C" fn GATList_String_Destroy(list: *mut GATList_String) {
    boundary::destroy("GATList_String_Destroy", list, GATType::GATType_GATList_String)
}
