//! GATLocation: a local path, given as a path or a `file:` URI.

use std::ffi::{c_char, CString};

use super::boundary;
use super::handle::{Body, Obj};
use super::types::{GATLocation, GATLocation_const, GATType};
use crate::engine::value::location_path;
use crate::engine::Result;

pub(crate) struct LocationObj {
    /// As given (what a table copy keeps).
    pub(crate) uri: String,
    /// The path it names, for GATLocation_GetPath.
    path: CString,
}

impl LocationObj {
    /// Checks `uri` (see engine::value::location_path).
    pub(crate) fn new(uri: &str) -> Result<Self> {
        let path = location_path(uri)?;
        Ok(LocationObj { uri: uri.to_owned(), path: boundary::c_string(&path) })
    }

    /// A location for a value already stored (a table copy); should it not name a local path,
    /// its path is the text as given rather than a failure.
    pub(crate) fn from_value(uri: &str) -> Self {
        Self::new(uri).unwrap_or_else(|_| LocationObj { uri: uri.to_owned(), path: boundary::c_string(uri) })
    }
}

/// Create a location from a path or a `file:` URI (`file:///dir/prog`, `file://localhost/...`).
/// The caller owns it and releases it with GATLocation_Destroy(). NULL, empty text, another host
/// or another scheme (`http://`, `ssh://`) gives NULL; the reason is in the last-error text.
#[no_mangle]
pub unsafe extern "C" fn GATLocation_Create(uri: *const c_char) -> GATLocation {
    boundary::create("GATLocation_Create", || {
        let uri = boundary::str_arg(uri, "uri")?;
        Ok(Obj::new(Body::Location(LocationObj::new(uri)?)))
    })
}

/// (ext) The local path the location names (a `file:` URI reduced to its path), owned by the
/// location and valid until it is destroyed. NULL when `location` is not a live GATLocation.
#[no_mangle]
pub extern "C" fn GATLocation_GetPath(location: GATLocation_const) -> *const c_char {
    boundary::value("GATLocation_GetPath", std::ptr::null(), || {
        let obj = boundary::obj(location, GATType::GATType_GATLocation, "location")?;
        let Body::Location(l) = &obj.body else { return Err(super::object::wrong_body("location")) };
        Ok(l.path.as_ptr())
    })
}

/// Release a location and set `*location` to NULL. NULL and `*location == NULL` are accepted.
#[no_mangle]
pub unsafe extern "C" fn GATLocation_Destroy(location: *mut GATLocation) {
    boundary::destroy("GATLocation_Destroy", location, GATType::GATType_GATLocation)
}
