//! GATPreferences: string key/value pairs that steer adaptor choice and behaviour.

use std::ffi::c_char;
use std::sync::Mutex;

use super::boundary;
use super::handle::{Body, Obj};
use super::types::{GATPreferences, GATResult, GATType};
use crate::engine::Preferences;

pub(crate) struct PreferencesObj {
    pub(crate) prefs: Mutex<Preferences>,
}

impl PreferencesObj {
    pub(crate) fn new(prefs: Preferences) -> Self {
        PreferencesObj { prefs: Mutex::new(prefs) }
    }

    pub(crate) fn snapshot(&self) -> Preferences {
        self.prefs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Create an empty set of preferences. The caller owns it and releases it with
/// GATPreferences_Destroy(). Objects created with it keep their own copy.
#[no_mangle]
pub extern "C" fn GATPreferences_Create() -> GATPreferences {
    boundary::create("GATPreferences_Create", || {
        Ok(Obj::new(Body::Preferences(PreferencesObj::new(Preferences::new()))))
    })
}

/// Set preference `key` to `value` (both copied); a later value for the same key replaces the
/// earlier one. Returns GAT_SUCCESS, GAT_INVALID_HANDLE, GAT_INVALID_PARAMETER (NULL or empty
/// key, NULL value) or GAT_INVALID_ENCODING (not UTF-8).
#[no_mangle]
pub unsafe extern "C" fn GATPreferences_Add(
    preferences: GATPreferences,
    key: *const c_char,
    value: *const c_char,
) -> GATResult {
    boundary::call("GATPreferences_Add", || {
        let obj = boundary::obj(preferences, GATType::GATType_GATPreferences, "preferences")?;
        let key = boundary::str_arg(key, "key")?;
        let value = boundary::str_arg(value, "value")?;
        let Body::Preferences(p) = &obj.body else { return Err(super::object::wrong_body("preferences")) };
        let added = p.prefs.lock().unwrap_or_else(|e| e.into_inner()).try_add(key, value);
        added
    })
}

/// Release preferences and set `*preferences` to NULL. NULL and `*preferences == NULL` are
/// accepted.
#[no_mangle]
pub unsafe extern "C" fn GATPreferences_Destroy(preferences: *mut GATPreferences) {
    boundary::destroy("GATPreferences_Destroy", preferences, GATType::GATType_GATPreferences)
}
