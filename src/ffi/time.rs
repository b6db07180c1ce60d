//! GATTime: a point in time, in seconds since the epoch.

use super::boundary;
use super::handle::{Body, Obj};
use super::types::{GATTime, GATTime_const, GATType, GATdouble64};
use crate::engine::value::time_seconds;

pub(crate) struct TimeObj {
    pub(crate) seconds: f64,
}

impl TimeObj {
    pub(crate) fn new(seconds: f64) -> Self {
        TimeObj { seconds }
    }
}

/// Create a time `seconds_since_epoch` seconds after 1970-01-01 UTC; 0 means now. The caller owns
/// it and releases it with GATTime_Destroy(). A negative or non-finite value gives NULL (the
/// reason is in the last-error text).
#[no_mangle]
pub extern "C" fn GATTime_Create(seconds_since_epoch: GATdouble64) -> GATTime {
    boundary::create("GATTime_Create", || {
        Ok(Obj::new(Body::Time(TimeObj::new(time_seconds(seconds_since_epoch)?))))
    })
}

/// (ext) The time in seconds since the epoch; 0 (with a last-error text) when `time` is not a
/// live GATTime.
#[no_mangle]
pub extern "C" fn GATTime_GetSeconds(time: GATTime_const) -> GATdouble64 {
    boundary::value("GATTime_GetSeconds", 0.0, || {
        let obj = boundary::obj(time, GATType::GATType_GATTime, "time")?;
        let Body::Time(t) = &obj.body else { return Err(super::object::wrong_body("time")) };
        Ok(t.seconds)
    })
}

/// Release a time and set `*time` to NULL. NULL and `*time == NULL` are accepted; a time owned
/// by another object (an info-table value) is refused and left alone.
#[no_mangle]
pub unsafe extern "C" fn GATTime_Destroy(time: *mut GATTime) {
    boundary::destroy("GATTime_Destroy", time, GATType::GATType_GATTime)
}
