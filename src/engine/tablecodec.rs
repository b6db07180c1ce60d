//! GAT tables as JSON text, so the journal can keep a job's software description and a later
//! process can rebuild it. Every value is tagged with its GAT type (`{"int16": 3}`,
//! `{"GATList_String": ["a"]}`), so the round trip keeps types exactly.

use serde_json::{json, Map, Value as Json};

use super::error::{Error, Result};
use super::value::{ObjectValue, Table, Value};

pub fn encode(table: &Table) -> String {
    table_json(table).to_string()
}

pub fn decode(text: &str) -> Result<Table> {
    let json: Json = serde_json::from_str(text)
        .map_err(|e| Error::UnknownFormat(format!("stored description is not valid JSON: {e}")))?;
    json_table(&json)
}

fn table_json(table: &Table) -> Json {
    let map: Map<String, Json> = table.iter().map(|(k, v)| (k.to_owned(), value_json(v))).collect();
    Json::Object(map)
}

fn value_json(v: &Value) -> Json {
    match v {
        Value::String(s) => json!({ "string": s }),
        Value::Int16(n) => json!({ "int16": n }),
        Value::Int32(n) => json!({ "int32": n }),
        Value::Int64(n) => json!({ "int64": n }),
        Value::Float(n) => json!({ "float": n }),
        Value::Double(n) => json!({ "double": n }),
        Value::Object(ObjectValue::String(s)) => json!({ "GATString": s }),
        Value::Object(ObjectValue::ListString(l)) => json!({ "GATList_String": l }),
        Value::Object(ObjectValue::Location(s)) => json!({ "GATLocation": s }),
        Value::Object(ObjectValue::Time(t)) => json!({ "GATTime": t }),
        Value::Object(ObjectValue::Table(t)) => json!({ "GATTable": table_json(t) }),
    }
}

fn bad(what: &str) -> Error {
    Error::UnknownFormat(format!("stored description: {what}"))
}

fn json_table(json: &Json) -> Result<Table> {
    let map = json.as_object().ok_or_else(|| bad("a table is not a JSON object"))?;
    let mut table = Table::new();
    for (key, tagged) in map {
        table.set(key, json_value(tagged).map_err(|e| e.context(format!("key '{key}'")))?);
    }
    Ok(table)
}

fn json_value(tagged: &Json) -> Result<Value> {
    let (tag, v) = tagged
        .as_object()
        .and_then(|m| m.iter().next())
        .ok_or_else(|| bad("a value is not a one-entry JSON object"))?;
    let int = || v.as_i64().ok_or_else(|| bad("an integer value is not an integer"));
    let num = || v.as_f64().ok_or_else(|| bad("a number value is not a number"));
    let text = || v.as_str().map(str::to_owned).ok_or_else(|| bad("a text value is not a string"));
    let narrow = |n: i64| bad(&format!("{n} does not fit its type"));
    Ok(match tag.as_str() {
        "string" => Value::String(text()?),
        "int16" => Value::Int16(int().and_then(|n| i16::try_from(n).map_err(|_| narrow(n)))?),
        "int32" => Value::Int32(int().and_then(|n| i32::try_from(n).map_err(|_| narrow(n)))?),
        "int64" => Value::Int64(int()?),
        "float" => Value::Float(num()? as f32),
        "double" => Value::Double(num()?),
        "GATString" => Value::Object(ObjectValue::String(text()?)),
        "GATLocation" => Value::Object(ObjectValue::Location(text()?)),
        "GATTime" => Value::Object(ObjectValue::Time(num()?)),
        "GATTable" => Value::Object(ObjectValue::Table(json_table(v)?)),
        "GATList_String" => {
            let items = v.as_array().ok_or_else(|| bad("a list is not a JSON array"))?;
            let strings = items
                .iter()
                .map(|i| i.as_str().map(str::to_owned).ok_or_else(|| bad("a list item is not a string")))
                .collect::<Result<Vec<_>>>()?;
            Value::Object(ObjectValue::ListString(strings))
        }
        other => return Err(bad(&format!("unknown value type '{other}'"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_type_round_trips() {
        let mut inner = Table::new();
        inner.set("PATH", Value::String("/bin".into()));
        let mut t = Table::new();
        t.set("s", Value::String("a \"quoted\" text".into()));
        t.set("i16", Value::Int16(-3));
        t.set("i32", Value::Int32(70000));
        t.set("i64", Value::Int64(1 << 40));
        t.set("f", Value::Float(1.5));
        t.set("d", Value::Double(2.25));
        t.set("gs", Value::Object(ObjectValue::String("x".into())));
        t.set("l", Value::Object(ObjectValue::ListString(vec!["a b".into(), "".into()])));
        t.set("loc", Value::Object(ObjectValue::Location("file:///x".into())));
        t.set("time", Value::Object(ObjectValue::Time(12.5)));
        t.set("env", Value::Object(ObjectValue::Table(inner)));
        assert_eq!(decode(&encode(&t)).unwrap(), t);
    }

    #[test]
    fn malformed_text_is_unknown_format() {
        for text in ["nope", "[]", r#"{"a": 1}"#, r#"{"a": {"int16": 70000}}"#, r#"{"a": {"what": 1}}"#] {
            assert!(matches!(decode(text), Err(Error::UnknownFormat(_))), "{text}");
        }
    }
}
