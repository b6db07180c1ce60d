//! GATTable: a hash of key to one typed value. Getters hand out pointers the table owns: a
//! string or object value stays valid until its key is removed or the table destroyed.

use std::collections::HashMap;
use std::ffi::{c_char, CString};
use std::sync::{Mutex, MutexGuard};

use super::boundary;
use super::handle::{self, Body, Obj, GATType_GATObject_ANY};
use super::list::ListStringObj;
use super::object::{self, BorrowedMap};
use super::types::*;
use crate::engine::{Result, Table, Value};

pub(crate) struct TableObj {
    pub(crate) table: Mutex<Table>,
    /// What the getters handed out. Lock order: `table`, then `handed_out`.
    handed_out: Mutex<HandedOut>,
}

#[derive(Default)]
struct HandedOut {
    strings: HashMap<String, CString>,
    objects: BorrowedMap,
}

impl TableObj {
    pub(crate) fn new(table: Table) -> Self {
        TableObj { table: Mutex::new(table), handed_out: Mutex::new(HandedOut::default()) }
    }

    /// A copy of the current contents.
    pub(crate) fn snapshot(&self) -> Table {
        self.lock_table().clone()
    }

    fn lock_table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_handed_out(&self) -> MutexGuard<'_, HandedOut> {
        self.handed_out.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, key: &str, value: Value) -> Result<()> {
        self.lock_table().add(key, value)
    }

    fn remove(&self, key: &str) -> Result<()> {
        let mut table = self.lock_table();
        table.remove(key)?;
        let mut handed_out = self.lock_handed_out();
        handed_out.strings.remove(key);
        handed_out.objects.remove(key);
        Ok(())
    }

    /// The string under `key`, as a C string the table keeps.
    fn get_string(&self, key: &str) -> Result<*const c_char> {
        let table = self.lock_table();
        let text = table.get_str(key)?;
        let mut handed_out = self.lock_handed_out();
        // C sees the text up to an interior NUL (only engine-made values can hold one).
        let visible = text.split('\0').next().unwrap_or_default();
        if let Some(c) = handed_out.strings.get(key) {
            if c.as_bytes() == visible.as_bytes() {
                return Ok(c.as_ptr());
            }
        }
        let c = boundary::c_string(visible);
        let ptr = c.as_ptr();
        handed_out.strings.insert(key.to_owned(), c);
        Ok(ptr)
    }

    /// The object under `key`, as a borrowed handle the table keeps.
    fn get_object(&self, key: &str) -> Result<GATObject_const> {
        let table = self.lock_table();
        let value = table.get_object(key)?;
        Ok(self.lock_handed_out().objects.get_or_register(key, value).cast_const().cast())
    }
}

fn with_table<T>(table: GATTable_const, f: impl FnOnce(&TableObj) -> Result<T>) -> Result<T> {
    let obj = boundary::obj(table, GATType::GATType_GATTable, "table")?;
    let Body::Table(t) = &obj.body else { return Err(object::wrong_body("table")) };
    f(t)
}

fn add(function: &str, table: GATTable, key: *const c_char, value: impl FnOnce() -> Result<Value>) -> GATResult {
    boundary::call(function, || {
        with_table(table, |t| {
            let key = boundary::str_arg(key, "key")?;
            t.add(key, value()?)
        })
    })
}

fn get<T>(function: &str, table: GATTable_const, key: *const c_char, out: *mut T, read: impl FnOnce(&TableObj, &str) -> Result<T>) -> GATResult {
    boundary::call(function, || {
        with_table(table, |t| {
            let key = boundary::str_arg(key, "key")?;
            boundary::check_out(out, "value")?;
            let v = read(t, key)?;
            boundary::write_out(out, "value", v)
        })
    })
}

/// Create an empty table. The caller owns it and releases it with GATTable_Destroy().
#[no_mangle]
pub extern "C" fn GATTable_Create() -> GATTable {
    boundary::create("GATTable_Create", || Ok(Obj::new(Body::Table(TableObj::new(Table::new())))))
}

/// Release a table and set `*table` to NULL; strings and objects its getters handed out become
/// invalid. NULL and `*table == NULL` are accepted; a table owned by another object (a job's
/// info, a description's attributes) is refused and left alone.
#[no_mangle]
pub unsafe extern "C" fn GATTable_Destroy(table: *mut GATTable) {
    boundary::destroy("GATTable_Destroy", table, GATType::GATType_GATTable)
}

/// Add a copy of the string `value` under `key`. Returns GAT_SUCCESS, GAT_DUPLICATE_KEY (the key
/// is already there; its value is kept), GAT_INVALID_HANDLE, GAT_INVALID_PARAMETER (NULL or empty
/// key, NULL value) or GAT_INVALID_ENCODING (not UTF-8).
#[no_mangle]
pub unsafe extern "C" fn GATTable_Add_String(table: GATTable, key: *const c_char, value: *const c_char) -> GATResult {
    add("GATTable_Add_String", table, key, || Ok(Value::String(boundary::str_arg(value, "value")?.to_owned())))
}

/// Add a 16-bit integer under `key`. Results as GATTable_Add_String().
#[no_mangle]
pub unsafe extern "C" fn GATTable_Add_int16(table: GATTable, key: *const c_char, value: GATint16) -> GATResult {
    add("GATTable_Add_int16", table, key, || Ok(Value::Int16(value)))
}

/// Add a 32-bit integer under `key`. Results as GATTable_Add_String().
#[no_mangle]
pub unsafe extern "C" fn GATTable_Add_int32(table: GATTable, key: *const c_char, value: GATint32) -> GATResult {
    add("GATTable_Add_int32", table, key, || Ok(Value::Int32(value)))
}

/// Add a 64-bit integer under `key`. Results as GATTable_Add_String().
#[no_mangle]
pub unsafe extern "C" fn GATTable_Add_int64(table: GATTable, key: *const c_char, value: GATint64) -> GATResult {
    add("GATTable_Add_int64", table, key, || Ok(Value::Int64(value)))
}

/// Add a 32-bit float under `key`. Results as GATTable_Add_String().
#[no_mangle]
pub unsafe extern "C" fn GATTable_Add_float(table: GATTable, key: *const c_char, value: GATfloat32) -> GATResult {
    add("GATTable_Add_float", table, key, || Ok(Value::Float(value)))
}

/// Add a 64-bit float under `key`. Results as GATTable_Add_String().
#[no_mangle]
pub unsafe extern "C" fn GATTable_Add_double(table: GATTable, key: *const c_char, value: GATdouble64) -> GATResult {
    add("GATTable_Add_double", table, key, || Ok(Value::Double(value)))
}

/// Add a copy of `value` under `key`: the table keeps its own copy, so `value` may be destroyed
/// afterwards. Only a GATString, GATList_String, GATLocation, GATTime or GATTable can be stored;
/// another class gives GAT_INVALID_PARAMETER, a dead handle GAT_INVALID_HANDLE. Other results as
/// GATTable_Add_String().
#[no_mangle]
pub unsafe extern "C" fn GATTable_Add_GATObject(table: GATTable, key: *const c_char, value: GATObject_const) -> GATResult {
    add("GATTable_Add_GATObject", table, key, || {
        let obj = handle::lookup(value, GATType_GATObject_ANY, "value")?;
        Ok(Value::Object(object::object_value(&obj)?))
    })
}

/// Read the string under `key` into `*value`. The string is owned by the table and stays valid
/// until the key is removed or the table destroyed. Returns GAT_SUCCESS, GAT_NO_SUCH_KEY,
/// GAT_KEY_TYPE_ERROR (the value is not a string), GAT_INVALID_HANDLE or GAT_INVALID_PARAMETER
/// (NULL key or out-pointer).
#[no_mangle]
pub unsafe extern "C" fn GATTable_Get_String(table: GATTable_const, key: *const c_char, value: *mut *const c_char) -> GATResult {
    get("GATTable_Get_String", table, key, value, |t, k| t.get_string(k))
}

/// Read the number under `key` as a 16-bit integer. Any numeric value converts when it fits
/// exactly; otherwise GAT_KEY_TYPE_ERROR. Other results as GATTable_Get_String().
#[no_mangle]
pub unsafe extern "C" fn GATTable_Get_int16(table: GATTable_const, key: *const c_char, value: *mut GATint16) -> GATResult {
    get("GATTable_Get_int16", table, key, value, |t, k| t.lock_table().get_int(k, "int16"))
}

/// Read the number under `key` as a 32-bit integer; converts as GATTable_Get_int16().
#[no_mangle]
pub unsafe extern "C" fn GATTable_Get_int32(table: GATTable_const, key: *const c_char, value: *mut GATint32) -> GATResult {
    get("GATTable_Get_int32", table, key, value, |t, k| t.lock_table().get_int(k, "int32"))
}

/// Read the number under `key` as a 64-bit integer; converts as GATTable_Get_int16().
#[no_mangle]
pub unsafe extern "C" fn GATTable_Get_int64(table: GATTable_const, key: *const c_char, value: *mut GATint64) -> GATResult {
    get("GATTable_Get_int64", table, key, value, |t, k| t.lock_table().get_int(k, "int64"))
}

/// Read the number under `key` as a 32-bit float (any numeric value within its range).
/// Other results as GATTable_Get_String().
#[no_mangle]
pub unsafe extern "C" fn GATTable_Get_float(table: GATTable_const, key: *const c_char, value: *mut GATfloat32) -> GATResult {
    get("GATTable_Get_float", table, key, value, |t, k| t.lock_table().get_f32(k))
}

/// Read the number under `key` as a 64-bit float (any numeric value). Other results as
/// GATTable_Get_String().
#[no_mangle]
pub unsafe extern "C" fn GATTable_Get_double(table: GATTable_const, key: *const c_char, value: *mut GATdouble64) -> GATResult {
    get("GATTable_Get_double", table, key, value, |t, k| t.lock_table().get_f64(k))
}

/// Read the object under `key` (a GATString, GATList_String, GATLocation, GATTime or GATTable;
/// GATObject_GetType() tells which). The handle is owned by the table: valid until the key is
/// removed or the table destroyed, and never destroyed by the caller. GAT_KEY_TYPE_ERROR when the
/// value is a plain string or number. Other results as GATTable_Get_String().
#[no_mangle]
pub unsafe extern "C" fn GATTable_Get_GATObject(table: GATTable_const, key: *const c_char, value: *mut GATObject_const) -> GATResult {
    get("GATTable_Get_GATObject", table, key, value, |t, k| t.get_object(k))
}

/// Remove `key` and its value; strings and objects handed out for it become invalid. Returns
/// GAT_SUCCESS, GAT_NO_SUCH_KEY, GAT_INVALID_HANDLE or GAT_INVALID_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn GATTable_Remove(table: GATTable, key: *const c_char) -> GATResult {
    boundary::call("GATTable_Remove", || with_table(table, |t| t.remove(boundary::str_arg(key, "key")?)))
}

/// (ext) The number of keys; 0 (with a last-error text) when `table` is not a live GATTable.
#[no_mangle]
pub extern "C" fn GATTable_Size(table: GATTable_const) -> GATuint32 {
    boundary::value("GATTable_Size", 0, || {
        with_table(table, |t| Ok(GATuint32::try_from(t.lock_table().len()).unwrap_or(GATuint32::MAX)))
    })
}

/// (ext) The keys, sorted, as a new list in `*keys`; the caller releases it with
/// GATList_String_Destroy(). Returns GAT_SUCCESS, GAT_INVALID_HANDLE or GAT_INVALID_PARAMETER
/// (NULL out-pointer).
#[no_mangle]
pub unsafe extern "C" fn GATTable_GetKeys(table: GATTable_const, keys: *mut GATList_String) -> GATResult {
    boundary::call("GATTable_GetKeys", || {
        with_table(table, |t| {
            boundary::check_out(keys, "keys")?;
            let names: Vec<String> = t.lock_table().keys().map(str::to_owned).collect();
            let list = handle::register(Obj::new(Body::ListString(ListStringObj::new(&names))));
            boundary::write_out(keys, "keys", list)
        })
    })
}
