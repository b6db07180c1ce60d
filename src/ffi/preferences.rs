//! GATPreferences. (Being written.)

use std::sync::Mutex;

use crate::engine::Preferences;

pub(crate) struct PreferencesObj {
    pub(crate) prefs: Mutex<Preferences>,
}

impl PreferencesObj {
    pub(crate) fn snapshot(&self) -> Preferences {
        self.prefs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
