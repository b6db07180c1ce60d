//! GAT's value objects and descriptions, driven through the extern "C" functions exactly as a C
//! program would call them: tables, strings, lists, locations, times, preferences, contexts,
//! converters, descriptions, Destroy rules and last-error texts.

use std::ffi::{c_char, CStr, CString};
use std::ptr::{null, null_mut};
use std::sync::{Mutex, MutexGuard};

use gat::ffi::context::*;
use gat::ffi::description::*;
use gat::ffi::errors::GAT_GetLastErrorMessage;
use gat::ffi::list::*;
use gat::ffi::location::*;
use gat::ffi::object::*;
use gat::ffi::preferences::*;
use gat::ffi::result::*;
use gat::ffi::string::*;
use gat::ffi::table::*;
use gat::ffi::time::*;
use gat::ffi::types::*;

/// The handle registry is keyed by address: a test that uses a destroyed handle on purpose must
/// not see the address reused by a handle another test creates meanwhile, so tests run one at a
/// time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn last_error() -> String {
    let mut buf = vec![0u8; 1024];
    let n = unsafe { GAT_GetLastErrorMessage(buf.as_mut_ptr().cast(), buf.len()) };
    assert!(n < buf.len(), "last error text cut");
    CStr::from_bytes_until_nul(&buf).unwrap().to_string_lossy().into_owned()
}

fn text(p: *const c_char) -> String {
    assert!(!p.is_null(), "NULL string; last error: {}", last_error());
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn add_str(t: GATTable, k: &str, v: &str) -> GATResult {
    unsafe { GATTable_Add_String(t, c(k).as_ptr(), c(v).as_ptr()) }
}

fn get_str(t: GATTable, k: &str) -> Result<String, GATResult> {
    let mut out: *const c_char = null();
    match unsafe { GATTable_Get_String(t, c(k).as_ptr(), &mut out) } {
        GAT_SUCCESS => Ok(text(out)),
        rc => Err(rc),
    }
}

fn get_obj(t: GATTable, k: &str) -> GATObject_const {
    let mut out: GATObject_const = null();
    let rc = unsafe { GATTable_Get_GATObject(t, c(k).as_ptr(), &mut out) };
    assert_eq!(rc, GAT_SUCCESS, "{}", last_error());
    out
}

fn list_of(items: &[&str]) -> GATList_String {
    let l = GATList_String_Create();
    for item in items {
        assert_eq!(unsafe { GATList_String_Insert(l, GATList_String_End(l), c(item).as_ptr()) }, GAT_SUCCESS);
    }
    l
}

fn list_items(l: GATList_String_const) -> Vec<String> {
    (0..GATList_String_Size(l)).map(|i| text(GATList_String_Get(l, i))).collect()
}

fn destroy_table(mut t: GATTable) {
    unsafe { GATTable_Destroy(&mut t) };
    assert!(t.is_null());
}

#[test]
fn context_and_preferences_follow_the_create_destroy_rules() {
    let _s = serial();
    let mut ctx = GATContext_Create();
    assert!(!ctx.is_null());
    assert_eq!(GATObject_GetType(GATContext_ToGATObject_const(ctx)), GATType::GATType_GATContext);
    let mut prefs = GATPreferences_Create();
    unsafe {
        assert_eq!(GATPreferences_Add(prefs, c("resourcebroker.adaptor.name").as_ptr(), c("ssh").as_ptr()), GAT_SUCCESS);
        assert_eq!(GATPreferences_Add(prefs, c("resourcebroker.adaptor.name").as_ptr(), c("local").as_ptr()), GAT_SUCCESS);
        assert_eq!(GATPreferences_Add(prefs, null(), c("x").as_ptr()), GAT_INVALID_PARAMETER);
        assert!(last_error().contains("key is NULL"), "{}", last_error());
        assert_eq!(GATPreferences_Add(prefs, c("").as_ptr(), c("x").as_ptr()), GAT_INVALID_PARAMETER);
        assert_eq!(GATPreferences_Add(prefs, c("k").as_ptr(), null()), GAT_INVALID_PARAMETER);
        // A context is not preferences.
        assert_eq!(GATPreferences_Add(ctx.cast(), c("k").as_ptr(), c("v").as_ptr()), GAT_INVALID_HANDLE);
        assert!(last_error().contains("GATContext"), "{}", last_error());
        GATPreferences_Destroy(&mut prefs);
        assert!(prefs.is_null());
        GATContext_Destroy(&mut ctx);
        assert!(ctx.is_null());
        GATContext_Destroy(&mut ctx);
        GATContext_Destroy(null_mut());
    }
}

#[test]
fn table_add_get_duplicate_and_type_errors() {
    let _s = serial();
    let t = GATTable_Create();
    unsafe {
        assert_eq!(add_str(t, "name", "value"), GAT_SUCCESS);
        assert_eq!(GATTable_Add_int16(t, c("i16").as_ptr(), -7), GAT_SUCCESS);
        assert_eq!(GATTable_Add_int32(t, c("i32").as_ptr(), 70_000), GAT_SUCCESS);
        assert_eq!(GATTable_Add_int64(t, c("i64").as_ptr(), 1 << 40), GAT_SUCCESS);
        assert_eq!(GATTable_Add_float(t, c("f").as_ptr(), 1.5), GAT_SUCCESS);
        assert_eq!(GATTable_Add_double(t, c("d").as_ptr(), 3.0), GAT_SUCCESS);

        assert_eq!(add_str(t, "name", "other"), GAT_DUPLICATE_KEY);
        assert!(last_error().contains("'name'"), "{}", last_error());
        assert_eq!(GATTable_Add_int32(t, c("name").as_ptr(), 1), GAT_DUPLICATE_KEY);
        assert_eq!(get_str(t, "name"), Ok("value".into()));

        assert_eq!(get_str(t, "missing"), Err(GAT_NO_SUCH_KEY));
        assert!(last_error().contains("'missing'"), "{}", last_error());
        assert_eq!(get_str(t, "i16"), Err(GAT_KEY_TYPE_ERROR));
        assert!(last_error().contains("int16"), "{}", last_error());

        let mut i16v: GATint16 = 0;
        let mut i32v: GATint32 = 0;
        let mut i64v: GATint64 = 0;
        let mut fv: GATfloat32 = 0.0;
        let mut dv: GATdouble64 = 0.0;
        assert_eq!(GATTable_Get_int16(t, c("i16").as_ptr(), &mut i16v), GAT_SUCCESS);
        assert_eq!(i16v, -7);
        // Conversions when the value fits exactly.
        assert_eq!(GATTable_Get_int64(t, c("i16").as_ptr(), &mut i64v), GAT_SUCCESS);
        assert_eq!(i64v, -7);
        assert_eq!(GATTable_Get_int32(t, c("d").as_ptr(), &mut i32v), GAT_SUCCESS);
        assert_eq!(i32v, 3);
        assert_eq!(GATTable_Get_double(t, c("i32").as_ptr(), &mut dv), GAT_SUCCESS);
        assert_eq!(dv, 70_000.0);
        assert_eq!(GATTable_Get_float(t, c("f").as_ptr(), &mut fv), GAT_SUCCESS);
        assert_eq!(fv, 1.5);
        // ... and a type error when it does not; the out-parameter is untouched.
        i16v = 99;
        assert_eq!(GATTable_Get_int16(t, c("i32").as_ptr(), &mut i16v), GAT_KEY_TYPE_ERROR);
        assert_eq!(i16v, 99);
        assert!(last_error().contains("does not fit"), "{}", last_error());
        assert_eq!(GATTable_Get_int32(t, c("f").as_ptr(), &mut i32v), GAT_KEY_TYPE_ERROR);
        assert_eq!(GATTable_Get_int32(t, c("name").as_ptr(), &mut i32v), GAT_KEY_TYPE_ERROR);
        let mut obj: GATObject_const = null();
        assert_eq!(GATTable_Get_GATObject(t, c("name").as_ptr(), &mut obj), GAT_KEY_TYPE_ERROR);
        assert!(obj.is_null());

        // Bad arguments are errors, never crashes.
        assert_eq!(GATTable_Get_int32(t, c("i32").as_ptr(), null_mut()), GAT_INVALID_PARAMETER);
        assert_eq!(GATTable_Get_int32(t, null(), &mut i32v), GAT_INVALID_PARAMETER);
        assert_eq!(GATTable_Get_int32(null(), c("i32").as_ptr(), &mut i32v), GAT_INVALID_HANDLE);
        assert_eq!(GATTable_Add_String(t, c("k").as_ptr(), null()), GAT_INVALID_PARAMETER);
        assert_eq!(GATTable_Add_int16(t, c("").as_ptr(), 1), GAT_INVALID_PARAMETER);
        let bad_utf8 = [0xffu8, 0xfe, 0];
        assert_eq!(GATTable_Add_int16(t, bad_utf8.as_ptr().cast(), 1), GAT_INVALID_ENCODING);
        assert!(last_error().contains("UTF-8"), "{}", last_error());
        assert_eq!(GATTable_Size(t), 6);
    }
    destroy_table(t);
}

#[test]
fn table_remove_size_and_keys() {
    let _s = serial();
    let t = GATTable_Create();
    unsafe {
        for k in ["b", "a", "c"] {
            assert_eq!(GATTable_Add_int32(t, c(k).as_ptr(), 1), GAT_SUCCESS);
        }
        assert_eq!(GATTable_Size(t), 3);
        assert_eq!(GATTable_Remove(t, c("b").as_ptr()), GAT_SUCCESS);
        assert_eq!(GATTable_Remove(t, c("b").as_ptr()), GAT_NO_SUCH_KEY);
        assert_eq!(GATTable_Size(t), 2);
        // A removed key can be added again.
        assert_eq!(add_str(t, "b", "again"), GAT_SUCCESS);
        let mut keys: GATList_String = null_mut();
        assert_eq!(GATTable_GetKeys(t, &mut keys), GAT_SUCCESS);
        assert_eq!(list_items(keys), ["a", "b", "c"]);
        assert_eq!(GATTable_GetKeys(t, null_mut()), GAT_INVALID_PARAMETER);
        // The caller owns the key list.
        GATList_String_Destroy(&mut keys);
        assert!(keys.is_null());
        assert_eq!(GATTable_Size(null()), 0);
        assert!(last_error().contains("NULL"), "{}", last_error());
    }
    destroy_table(t);
}

#[test]
fn table_strings_stay_put_until_their_key_is_removed() {
    let _s = serial();
    let t = GATTable_Create();
    assert_eq!(add_str(t, "k", "first"), GAT_SUCCESS);
    let mut p1: *const c_char = null();
    let mut p2: *const c_char = null();
    unsafe {
        assert_eq!(GATTable_Get_String(t, c("k").as_ptr(), &mut p1), GAT_SUCCESS);
        for i in 0..100 {
            assert_eq!(add_str(t, &format!("other{i}"), "x"), GAT_SUCCESS);
        }
        assert_eq!(GATTable_Get_String(t, c("k").as_ptr(), &mut p2), GAT_SUCCESS);
    }
    assert_eq!(p1, p2, "the same query gives the same pointer");
    assert_eq!(text(p1), "first");
    assert_eq!(unsafe { GATTable_Remove(t, c("k").as_ptr()) }, GAT_SUCCESS);
    assert_eq!(get_str(t, "k"), Err(GAT_NO_SUCH_KEY));
    destroy_table(t);
}

#[test]
fn table_objects_are_deep_copies_owned_by_the_table() {
    let _s = serial();
    let t = GATTable_Create();
    unsafe {
        let mut s = GATString_Create(c("hello").as_ptr());
        let mut l = list_of(&["a", "b c"]);
        let mut loc = GATLocation_Create(c("file:///bin/true").as_ptr());
        let mut time = GATTime_Create(1_000_000.5);
        let mut inner = GATTable_Create();
        assert_eq!(add_str(inner, "x", "y"), GAT_SUCCESS);
        assert_eq!(GATTable_Add_GATObject(t, c("s").as_ptr(), GATString_ToGATObject_const(s)), GAT_SUCCESS);
        assert_eq!(GATTable_Add_GATObject(t, c("l").as_ptr(), GATList_String_ToGATObject_const(l)), GAT_SUCCESS);
        assert_eq!(GATTable_Add_GATObject(t, c("loc").as_ptr(), GATLocation_ToGATObject_const(loc)), GAT_SUCCESS);
        assert_eq!(GATTable_Add_GATObject(t, c("time").as_ptr(), GATTime_ToGATObject_const(time)), GAT_SUCCESS);
        assert_eq!(GATTable_Add_GATObject(t, c("inner").as_ptr(), GATTable_ToGATObject_const(inner)), GAT_SUCCESS);
        // Change and destroy the sources: the table's copies do not change.
        assert_eq!(GATList_String_Insert(l, GATList_String_End(l), c("late").as_ptr()), GAT_SUCCESS);
        assert_eq!(add_str(inner, "late", "z"), GAT_SUCCESS);
        GATString_Destroy(&mut s);
        GATList_String_Destroy(&mut l);
        GATLocation_Destroy(&mut loc);
        GATTime_Destroy(&mut time);
        GATTable_Destroy(&mut inner);

        let s2 = get_obj(t, "s");
        assert_eq!(GATObject_GetType(s2), GATType::GATType_GATString);
        assert_eq!(text(GATString_GetBuffer(GATObject_ToGATString_const(s2))), "hello");
        assert_eq!(get_obj(t, "s"), s2, "the same query gives the same handle");

        let l2 = GATObject_ToGATList_String_const(get_obj(t, "l"));
        assert_eq!(list_items(l2), ["a", "b c"]);

        let loc2 = GATObject_ToGATLocation_const(get_obj(t, "loc"));
        assert_eq!(text(GATLocation_GetPath(loc2)), "/bin/true");

        let time2 = GATObject_ToGATTime_const(get_obj(t, "time"));
        assert_eq!(GATTime_GetSeconds(time2), 1_000_000.5);

        let inner2 = GATObject_ToGATTable_const(get_obj(t, "inner"));
        assert_eq!(GATTable_Size(inner2), 1);
        assert_eq!(get_str(inner2 as GATTable, "x"), Ok("y".into()));

        // Borrowed handles belong to the table: Destroy refuses them and leaves them valid.
        let mut borrowed = GATObject_ToGATString(s2 as GATObject);
        GATString_Destroy(&mut borrowed);
        assert!(!borrowed.is_null());
        assert!(last_error().contains("owned by the object"), "{}", last_error());
        assert_eq!(text(GATString_GetBuffer(s2.cast())), "hello");

        // Removing the key retires its handle.
        assert_eq!(GATTable_Remove(t, c("s").as_ptr()), GAT_SUCCESS);
        assert_eq!(GATObject_GetType(s2), GATType::GATType_Unknown);
        assert!(GATString_GetBuffer(s2.cast()).is_null());
    }
    destroy_table(t);
}

#[test]
fn destroying_a_table_retires_nested_borrowed_handles() {
    let _s = serial();
    let outer = GATTable_Create();
    unsafe {
        let mut middle = GATTable_Create();
        let mut leaf = GATTable_Create();
        assert_eq!(add_str(leaf, "deep", "value"), GAT_SUCCESS);
        assert_eq!(GATTable_Add_GATObject(middle, c("leaf").as_ptr(), GATTable_ToGATObject_const(leaf)), GAT_SUCCESS);
        assert_eq!(GATTable_Add_GATObject(outer, c("middle").as_ptr(), GATTable_ToGATObject_const(middle)), GAT_SUCCESS);
        GATTable_Destroy(&mut leaf);
        GATTable_Destroy(&mut middle);
        let middle2 = get_obj(outer, "middle") as GATTable;
        let leaf2 = get_obj(middle2, "leaf") as GATTable;
        assert_eq!(get_str(leaf2, "deep"), Ok("value".into()));
        // A table may even be stored in itself: it stores a copy.
        assert_eq!(GATTable_Add_GATObject(outer, c("self").as_ptr(), GATTable_ToGATObject_const(outer)), GAT_SUCCESS);
        assert_eq!(GATTable_Size(get_obj(outer, "self").cast()), 1);
        destroy_table(outer);
        assert_eq!(GATObject_GetType(middle2.cast_const().cast()), GATType::GATType_Unknown);
        assert_eq!(GATObject_GetType(leaf2.cast_const().cast()), GATType::GATType_Unknown);
    }
}

#[test]
fn tables_refuse_objects_that_are_not_values() {
    let _s = serial();
    let t = GATTable_Create();
    let mut ctx = GATContext_Create();
    unsafe {
        assert_eq!(GATTable_Add_GATObject(t, c("ctx").as_ptr(), GATContext_ToGATObject_const(ctx)), GAT_INVALID_PARAMETER);
        let err = last_error();
        assert!(err.contains("GATContext") && err.contains("cannot be stored"), "{err}");
        assert_eq!(GATTable_Add_GATObject(t, c("null").as_ptr(), null()), GAT_INVALID_HANDLE);
        assert_eq!(GATTable_Size(t), 0);
        GATContext_Destroy(&mut ctx);
    }
    destroy_table(t);
}

#[test]
fn tables_may_be_shared_between_threads() {
    let _s = serial();
    let t = GATTable_Create() as usize;
    let threads: Vec<_> = (0..4)
        .map(|n| {
            std::thread::spawn(move || {
                let t = t as GATTable;
                for i in 0..200 {
                    let key = format!("t{n}-{i}");
                    assert_eq!(add_str(t, &key, &key), GAT_SUCCESS);
                    assert_eq!(get_str(t, &key), Ok(key.clone()));
                    if i % 2 == 0 {
                        assert_eq!(unsafe { GATTable_Remove(t, c(&key).as_ptr()) }, GAT_SUCCESS);
                    }
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    assert_eq!(GATTable_Size(t as GATTable), 400);
    destroy_table(t as GATTable);
}

#[test]
fn strings_and_lists() {
    let _s = serial();
    unsafe {
        let mut s = GATString_Create(c("job-1").as_ptr());
        assert_eq!(text(GATString_GetBuffer(s)), "job-1");
        assert!(GATString_Create(null()).is_null());
        assert!(last_error().contains("NULL"), "{}", last_error());
        GATString_Destroy(&mut s);
        assert!(GATString_GetBuffer(s).is_null());

        let mut l = GATList_String_Create();
        assert_eq!(GATList_String_Size(l), 0);
        assert_eq!(GATList_String_Insert(l, GATList_String_End(l), c("b").as_ptr()), GAT_SUCCESS);
        assert_eq!(GATList_String_Insert(l, GATList_String_Begin(l), c("a").as_ptr()), GAT_SUCCESS);
        assert_eq!(GATList_String_Insert(l, GATList_String_End(l), c("d").as_ptr()), GAT_SUCCESS);
        assert_eq!(GATList_String_Insert(l, GATList_String_Iterator { position: 2 }, c("c").as_ptr()), GAT_SUCCESS);
        assert_eq!(list_items(l), ["a", "b", "c", "d"]);
        let first = GATList_String_Get(l, 0);
        for i in 0..50 {
            assert_eq!(GATList_String_Insert(l, GATList_String_End(l), c(&i.to_string()).as_ptr()), GAT_SUCCESS);
        }
        assert_eq!(text(first), "a", "pointers survive inserts");
        assert_eq!(GATList_String_Insert(l, GATList_String_Iterator { position: 999 }, c("x").as_ptr()), GAT_INVALID_PARAMETER);
        assert_eq!(GATList_String_Insert(l, GATList_String_Iterator { position: -2 }, c("x").as_ptr()), GAT_INVALID_PARAMETER);
        assert_eq!(GATList_String_Insert(l, GATList_String_End(l), null()), GAT_INVALID_PARAMETER);
        assert!(GATList_String_Get(l, 1000).is_null());
        assert!(last_error().contains("1000"), "{}", last_error());
        assert_eq!(GATList_String_Remove(l, 0), GAT_SUCCESS);
        assert_eq!(text(GATList_String_Get(l, 0)), "b");
        assert_eq!(GATList_String_Remove(l, 1000), GAT_INVALID_PARAMETER);
        assert_eq!(GATList_String_Size(l), 53);
        GATList_String_Destroy(&mut l);
        assert_eq!(GATList_String_Size(l), 0);
    }
}

#[test]
fn locations_take_paths_and_file_uris_only() {
    let _s = serial();
    unsafe {
        for (uri, path) in [("/bin/sh", "/bin/sh"), ("file:///tmp/a%20b", "/tmp/a b"), ("prog", "prog")] {
            let mut loc = GATLocation_Create(c(uri).as_ptr());
            assert_eq!(text(GATLocation_GetPath(loc)), path);
            GATLocation_Destroy(&mut loc);
        }
        for bad in ["", "http://example.org/prog", "file://elsewhere/x"] {
            assert!(GATLocation_Create(c(bad).as_ptr()).is_null(), "{bad} accepted");
            assert!(last_error().starts_with("GATLocation_Create:"), "{}", last_error());
        }
        assert!(last_error().contains("elsewhere"), "{}", last_error());
        assert!(GATLocation_Create(null()).is_null());
    }
}

#[test]
fn times() {
    let _s = serial();
    unsafe {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        let mut t = GATTime_Create(0.0);
        assert!((GATTime_GetSeconds(t) - now).abs() < 60.0);
        GATTime_Destroy(&mut t);
        let mut t = GATTime_Create(42.25);
        assert_eq!(GATTime_GetSeconds(t), 42.25);
        GATTime_Destroy(&mut t);
        assert!(GATTime_Create(-5.0).is_null());
        assert!(GATTime_Create(f64::NAN).is_null());
        assert!(last_error().contains("time"), "{}", last_error());
        assert_eq!(GATTime_GetSeconds(null()), 0.0);
    }
}

#[test]
fn converters_are_checked_casts() {
    let _s = serial();
    unsafe {
        let mut s = GATString_Create(c("x").as_ptr());
        let o = GATString_ToGATObject(s);
        assert_eq!(o.cast::<u8>(), s.cast::<u8>(), "same pointer");
        assert_eq!(GATObject_ToGATString(o), s);
        assert_eq!(GATObject_ToGATString_const(o.cast_const()), s.cast_const());
        assert_eq!(GATObject_GetType(o), GATType::GATType_GATString);
        // Wrong down-casts give NULL and say why.
        assert!(GATObject_ToGATTable(o).is_null());
        assert!(last_error().contains("GATString") && last_error().contains("GATTable"), "{}", last_error());
        assert!(GATObject_ToGATJob_const(o).is_null());
        assert!(GATObject_ToGATResource(o).is_null());
        // Up-casts check too: a string handle passed as a time.
        assert!(GATTime_ToGATObject(s.cast()).is_null());
        assert!(GATObject_ToGATString(null_mut()).is_null());
        assert_eq!(GATObject_GetType(null()), GATType::GATType_Unknown);
        assert!(last_error().contains("NULL"), "{}", last_error());
        let dangling = s;
        GATString_Destroy(&mut s);
        assert_eq!(GATObject_GetType(dangling.cast_const().cast()), GATType::GATType_Unknown);
        assert!(GATObject_ToGATString(dangling.cast()).is_null());

        // The class tree: a hardware resource description is a resource description.
        let t = GATTable_Create();
        assert_eq!(GATTable_Add_int32(t, c("cpu.count").as_ptr(), 1), GAT_SUCCESS);
        let hwd = GATHardwareResourceDescription_Create(t);
        assert!(!hwd.is_null(), "{}", last_error());
        let mut rd = GATHardwareResourceDescription_ToGATResourceDescription(hwd);
        assert_eq!(rd.cast::<u8>(), hwd.cast::<u8>());
        let ho = GATHardwareResourceDescription_ToGATObject_const(hwd);
        assert_eq!(GATObject_GetType(ho), GATType::GATType_GATHardwareResourceDescription);
        assert_eq!(GATObject_ToGATResourceDescription_const(ho).cast::<u8>(), hwd.cast_const().cast::<u8>());
        assert!(GATObject_ToGATSoftwareDescription_const(ho).is_null());
        assert!(GATHardwareResourceDescription_ToGATResourceDescription(t.cast()).is_null());
        assert!(GATResource_ToGATHardwareResource_const(t.cast_const().cast()).is_null());
        // Destroying the resource description destroys the hardware description behind it.
        GATResourceDescription_Destroy(&mut rd);
        assert!(rd.is_null());
        assert_eq!(GATObject_GetType(ho), GATType::GATType_Unknown);
        destroy_table(t);
    }
}

fn software_table(entries: &[(&str, &str)]) -> GATTable {
    let t = GATTable_Create();
    for (k, v) in entries {
        assert_eq!(add_str(t, k, v), GAT_SUCCESS);
    }
    t
}

#[test]
fn software_descriptions_parse_and_round_trip() {
    let _s = serial();
    unsafe {
        let t = software_table(&[("stdout", "out.txt"), ("checkpoint.mode", "cooperative")]);
        let mut loc = GATLocation_Create(c("file:///bin/echo").as_ptr());
        let mut args = list_of(&["hello", "two words"]);
        let mut env = software_table(&[("GREETING", "hi")]);
        assert_eq!(GATTable_Add_GATObject(t, c("location").as_ptr(), GATLocation_ToGATObject_const(loc)), GAT_SUCCESS);
        assert_eq!(GATTable_Add_GATObject(t, c("arguments").as_ptr(), GATList_String_ToGATObject_const(args)), GAT_SUCCESS);
        assert_eq!(GATTable_Add_GATObject(t, c("environment").as_ptr(), GATTable_ToGATObject_const(env)), GAT_SUCCESS);
        assert_eq!(GATTable_Add_int16(t, c("checkpointable").as_ptr(), 1), GAT_SUCCESS);
        GATLocation_Destroy(&mut loc);
        GATList_String_Destroy(&mut args);
        GATTable_Destroy(&mut env);

        let mut sd = GATSoftwareDescription_Create(t);
        assert!(!sd.is_null(), "{}", last_error());
        destroy_table(t);

        let mut attrs: GATTable_const = null();
        assert_eq!(GATSoftwareDescription_GetAttributes(sd, &mut attrs), GAT_SUCCESS);
        assert_eq!(get_str(attrs as GATTable, "stdout"), Ok("out.txt".into()));
        let args2 = get_obj(attrs as GATTable, "arguments");
        assert_eq!(list_items(args2.cast()), ["hello", "two words"]);
        let mut again: GATTable_const = null();
        assert_eq!(GATSoftwareDescription_GetAttributes(sd, &mut again), GAT_SUCCESS);
        assert_eq!(attrs, again);

        // Job descriptions: NULL resource (the broker chooses), or a hardware description.
        let mut ctx = GATContext_Create();
        let mut jd = GATJobDescription_Create(ctx, sd, null());
        assert!(!jd.is_null(), "{}", last_error());
        let hw = software_table(&[("os.name", "Linux")]);
        let mut hwd = GATHardwareResourceDescription_Create(hw);
        destroy_table(hw);
        let rd = GATHardwareResourceDescription_ToGATResourceDescription(hwd);
        let mut jd2 = GATJobDescription_Create_Description(ctx, sd, rd);
        assert!(!jd2.is_null(), "{}", last_error());
        let mut jd3 = GATJobDescription_Create_Description(null_mut(), sd, null());
        assert!(!jd3.is_null(), "{}", last_error());
        // The job description keeps the software description alive.
        GATSoftwareDescription_Destroy(&mut sd);
        assert_eq!(GATObject_GetType(attrs.cast()), GATType::GATType_Unknown, "attributes went with sd");
        let mut sd2: GATSoftwareDescription_const = null();
        assert_eq!(GATJobDescription_GetSoftwareDescription(jd, &mut sd2), GAT_SUCCESS);
        assert_eq!(GATObject_GetType(sd2.cast()), GATType::GATType_GATSoftwareDescription);
        let mut attrs2: GATTable_const = null();
        assert_eq!(GATSoftwareDescription_GetAttributes(sd2, &mut attrs2), GAT_SUCCESS);
        let loc2 = get_obj(attrs2 as GATTable, "location");
        assert_eq!(text(GATLocation_GetPath(loc2.cast())), "/bin/echo");
        // A borrowed software description cannot be destroyed by the caller.
        let mut borrowed = sd2 as GATSoftwareDescription;
        GATSoftwareDescription_Destroy(&mut borrowed);
        assert!(!borrowed.is_null());
        assert_eq!(GATObject_GetType(sd2.cast()), GATType::GATType_GATSoftwareDescription);

        // Bad arguments.
        assert!(GATJobDescription_Create(ctx, null(), null()).is_null());
        assert!(last_error().contains("software description is NULL"), "{}", last_error());
        assert!(GATJobDescription_Create(ctx, sd2, jd.cast_const().cast()).is_null());
        assert!(last_error().contains("GATJobDescription"), "{}", last_error());
        assert!(GATJobDescription_Create_Description(ctx, sd2, sd2.cast()).is_null());
        assert!(GATJobDescription_Create(jd.cast(), sd2, null()).is_null());
        assert_eq!(GATJobDescription_GetSoftwareDescription(jd, null_mut()), GAT_INVALID_PARAMETER);

        GATJobDescription_Destroy(&mut jd);
        assert!(jd.is_null());
        assert_eq!(GATObject_GetType(sd2.cast()), GATType::GATType_Unknown, "borrowed sd went with jd");
        GATJobDescription_Destroy(&mut jd2);
        GATJobDescription_Destroy(&mut jd3);
        GATHardwareResourceDescription_Destroy(&mut hwd);
        assert!(hwd.is_null());
        GATContext_Destroy(&mut ctx);
    }
}

#[test]
fn malformed_descriptions_fail_naming_the_key() {
    let _s = serial();
    unsafe {
        let check = |t: GATTable, key: &str| {
            assert!(GATSoftwareDescription_Create(t).is_null(), "{key}: accepted");
            let err = last_error();
            assert!(err.starts_with("GATSoftwareDescription_Create:"), "{err}");
            assert!(err.contains(&format!("'{key}'")), "{err}");
            destroy_table(t);
        };
        check(GATTable_Create(), "location");
        check(software_table(&[("location", "http://host/prog")]), "location");
        check(software_table(&[("location", "/bin/true"), ("arguments", "-l")]), "arguments");
        check(software_table(&[("location", "/bin/true"), ("checkpoint.mode", "later")]), "checkpoint.mode");
        check(software_table(&[("location", "/bin/true"), ("checkpoint.signal", "SIGNOPE")]), "checkpoint.signal");
        let t = software_table(&[("location", "/bin/true")]);
        assert_eq!(GATTable_Add_int32(t, c("checkpointable").as_ptr(), 7), GAT_SUCCESS);
        check(t, "checkpointable");
        let t = software_table(&[("location", "/bin/true")]);
        assert_eq!(GATTable_Add_double(t, c("checkpoint.timeout").as_ptr(), -1.0), GAT_SUCCESS);
        check(t, "checkpoint.timeout");

        let hw = software_table(&[("memory.size", "plenty")]);
        assert!(GATHardwareResourceDescription_Create(hw).is_null());
        assert!(last_error().contains("'memory.size'"), "{}", last_error());
        destroy_table(hw);

        assert!(GATSoftwareDescription_Create(null()).is_null());
        assert!(last_error().contains("table is NULL"), "{}", last_error());
        let mut s = GATString_Create(c("not a table").as_ptr());
        assert!(GATSoftwareDescription_Create(s.cast_const().cast()).is_null());
        assert!(last_error().contains("GATString"), "{}", last_error());
        GATString_Destroy(&mut s);
    }
}

#[test]
fn destroy_accepts_null_and_survives_double_and_wrong_type_destroys() {
    let _s = serial();
    unsafe {
        macro_rules! check_destroy {
            ($create:expr, $destroy:ident, $ty:ty) => {{
                $destroy(null_mut());
                let mut none: $ty = null_mut();
                $destroy(&mut none);
                let mut h: $ty = $create;
                assert!(!h.is_null(), "{}", last_error());
                let stale = h;
                $destroy(&mut h);
                assert!(h.is_null());
                $destroy(&mut h);
                // A stale copy of a destroyed handle is refused (and cleared), never freed twice.
                let mut stale_copy = stale;
                $destroy(&mut stale_copy);
                assert!(last_error().contains("not a live GAT handle"), "{}", last_error());
                assert!(stale_copy.is_null());
            }};
        }
        check_destroy!(GATContext_Create(), GATContext_Destroy, GATContext);
        check_destroy!(GATPreferences_Create(), GATPreferences_Destroy, GATPreferences);
        check_destroy!(GATTable_Create(), GATTable_Destroy, GATTable);
        check_destroy!(GATString_Create(c("s").as_ptr()), GATString_Destroy, GATString);
        check_destroy!(GATList_String_Create(), GATList_String_Destroy, GATList_String);
        check_destroy!(GATLocation_Create(c("/").as_ptr()), GATLocation_Destroy, GATLocation);
        check_destroy!(GATTime_Create(0.0), GATTime_Destroy, GATTime);
        let t = software_table(&[("location", "/bin/true")]);
        check_destroy!(GATSoftwareDescription_Create(t), GATSoftwareDescription_Destroy, GATSoftwareDescription);
        check_destroy!(
            GATHardwareResourceDescription_Create(t),
            GATHardwareResourceDescription_Destroy,
            GATHardwareResourceDescription
        );
        let sd = GATSoftwareDescription_Create(t);
        check_destroy!(GATJobDescription_Create(null_mut(), sd, null()), GATJobDescription_Destroy, GATJobDescription);
        let mut sd = sd;
        GATSoftwareDescription_Destroy(&mut sd);
        GATResourceDescription_Destroy(null_mut());

        // Destroying with the wrong class's Destroy is refused and leaves the object alone.
        let mut s = GATString_Create(c("keep").as_ptr());
        let mut as_table = s as GATTable;
        GATTable_Destroy(&mut as_table);
        assert!(last_error().contains("GATString"), "{}", last_error());
        assert_eq!(text(GATString_GetBuffer(s)), "keep");
        GATString_Destroy(&mut s);
        destroy_table(t);
    }
}

#[test]
fn object_values_survive_concurrent_gets_and_removes() {
    let _s = serial();
    let t = GATTable_Create() as usize;
    let add_list = |t: GATTable| {
        let mut l = list_of(&["x", "y"]);
        let rc = unsafe { GATTable_Add_GATObject(t, c("list").as_ptr(), GATList_String_ToGATObject_const(l)) };
        unsafe { GATList_String_Destroy(&mut l) };
        rc
    };
    assert_eq!(add_list(t as GATTable), GAT_SUCCESS);
    let readers: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(move || {
                let mut seen = 0;
                let started = std::time::Instant::now();
                // 300 reads, and more until one saw the list (a loaded machine may run all of
                // them inside the writer's remove-add gaps); bounded.
                for i in 0.. {
                    if i >= 300 && (seen > 0 || started.elapsed() > std::time::Duration::from_secs(10)) {
                        break;
                    }
                    let mut out: GATObject_const = null();
                    let rc = unsafe { GATTable_Get_GATObject(t as GATTable, c("list").as_ptr(), &mut out) };
                    match rc {
                        GAT_SUCCESS => {
                            // The handle may be retired by a concurrent Remove (then it reads as
                            // 0), and its address may even be reused at once by a list being
                            // built (0, 1 or 2 strings): never a crash, never garbage.
                            let size = GATList_String_Size(out.cast());
                            assert!(size <= 2, "size {size}");
                            seen += 1;
                        }
                        GAT_NO_SUCH_KEY => {}
                        other => panic!("unexpected result {other:#x}: {}", last_error()),
                    }
                }
                seen
            })
        })
        .collect();
    for _ in 0..200 {
        assert_eq!(unsafe { GATTable_Remove(t as GATTable, c("list").as_ptr()) }, GAT_SUCCESS);
        assert_eq!(add_list(t as GATTable), GAT_SUCCESS);
    }
    let seen: i32 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(seen > 0);
    destroy_table(t as GATTable);
}
