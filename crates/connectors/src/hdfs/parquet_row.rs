//! Rows of Parquet files: [`Value`]s converted from and to Arrow record batches.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, Int8Array,
    LargeStringArray, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One value of a row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// A null.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (Parquet and Arrow integers up to 64 bits).
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
}

/// One row: a value per column, in the schema's order.
pub type Row = Vec<Value>;

/// Whether a column of this type can be read into and written from [`Value`]s.
pub fn is_supported(t: &DataType) -> bool {
    use DataType::*;
    matches!(
        t,
        Null | Boolean
            | Int8
            | Int16
            | Int32
            | Int64
            | UInt8
            | UInt16
            | UInt32
            | UInt64
            | Float32
            | Float64
            | Utf8
            | LargeUtf8
            | Utf8View
    )
}

fn prims<T: ArrowPrimitiveType>(a: &dyn Array, f: impl Fn(T::Native) -> Value) -> Vec<Value> {
    a.as_primitive::<T>()
        .iter()
        .map(|v| v.map_or(Value::Null, &f))
        .collect()
}

fn strs<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Vec<Value> {
    values
        .map(|v| v.map_or(Value::Null, |s| Value::Str(s.to_string())))
        .collect()
}

/// The values of one column.
fn column_values(a: &dyn Array, field: &Field) -> Result<Vec<Value>, String> {
    Ok(match a.data_type() {
        DataType::Null => vec![Value::Null; a.len()],
        DataType::Boolean => a
            .as_boolean()
            .iter()
            .map(|v| v.map_or(Value::Null, Value::Bool))
            .collect(),
        DataType::Int8 => prims::<Int8Type>(a, |v| Value::Int(v.into())),
        DataType::Int16 => prims::<Int16Type>(a, |v| Value::Int(v.into())),
        DataType::Int32 => prims::<Int32Type>(a, |v| Value::Int(v.into())),
        DataType::Int64 => prims::<Int64Type>(a, Value::Int),
        DataType::UInt8 => prims::<UInt8Type>(a, |v| Value::Int(v.into())),
        DataType::UInt16 => prims::<UInt16Type>(a, |v| Value::Int(v.into())),
        DataType::UInt32 => prims::<UInt32Type>(a, |v| Value::Int(v.into())),
        DataType::UInt64 => {
            let values = a.as_primitive::<UInt64Type>();
            let mut out = Vec::with_capacity(values.len());
            for v in values.iter() {
                out.push(match v.map(i64::try_from) {
                    None => Value::Null,
                    Some(Ok(v)) => Value::Int(v),
                    Some(Err(_)) => return Err(format!("column {}: value beyond i64", field.name())),
                });
            }
            out
        }
        DataType::Float32 => prims::<Float32Type>(a, |v| Value::Float(v.into())),
        DataType::Float64 => prims::<Float64Type>(a, Value::Float),
        DataType::Utf8 => strs(a.as_string::<i32>().iter()),
        DataType::LargeUtf8 => strs(a.as_string::<i64>().iter()),
        DataType::Utf8View => strs(a.as_string_view().iter()),
        other => return Err(format!("column {} has unsupported type {other}", field.name())),
    })
}

/// The rows of a batch.
pub fn batch_to_rows(batch: &RecordBatch) -> Result<Vec<Row>, String> {
    let schema = batch.schema();
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (a, field) in batch.columns().iter().zip(schema.fields()) {
        columns.push(column_values(a.as_ref(), field)?.into_iter());
    }
    Ok((0..batch.num_rows())
        .map(|_| {
            columns
                .iter_mut()
                .map(|c| c.next().unwrap_or(Value::Null))
                .collect()
        })
        .collect())
}

/// The values of column `j` of `rows`, each converted by `get` (`None`: the value does not fit).
fn column<'a, V>(
    rows: &'a [Row],
    j: usize,
    field: &Field,
    get: impl Fn(&'a Value) -> Option<V>,
) -> Result<Vec<Option<V>>, String> {
    rows.iter()
        .map(|row| match row.get(j) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => get(v).map(Some).ok_or_else(|| {
                format!(
                    "column {} of type {} cannot hold {v:?}",
                    field.name(),
                    field.data_type()
                )
            }),
        })
        .collect()
}

fn int<N: TryFrom<i64>>(v: &Value) -> Option<N> {
    match v {
        Value::Int(i) => N::try_from(*i).ok(),
        _ => None,
    }
}

fn float(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Int(i) => Some(*i as f64),
        _ => None,
    }
}

fn string(v: &Value) -> Option<&str> {
    match v {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

/// One column of `rows` as an Arrow array of `field`'s type.
fn to_array(rows: &[Row], j: usize, field: &Field) -> Result<ArrayRef, String> {
    let f = field;
    Ok(match f.data_type() {
        DataType::Boolean => Arc::new(BooleanArray::from(column(rows, j, f, |v| match v {
            Value::Bool(b) => Some(*b),
            _ => None,
        })?)),
        DataType::Int8 => Arc::new(Int8Array::from(column(rows, j, f, int::<i8>)?)),
        DataType::Int16 => Arc::new(Int16Array::from(column(rows, j, f, int::<i16>)?)),
        DataType::Int32 => Arc::new(Int32Array::from(column(rows, j, f, int::<i32>)?)),
        DataType::Int64 => Arc::new(Int64Array::from(column(rows, j, f, int::<i64>)?)),
        DataType::Float32 => Arc::new(Float32Array::from(column(rows, j, f, |v| {
            float(v).map(|x| x as f32)
        })?)),
        DataType::Float64 => Arc::new(Float64Array::from(column(rows, j, f, float)?)),
        DataType::Utf8 => Arc::new(StringArray::from(column(rows, j, f, string)?)),
        DataType::LargeUtf8 => Arc::new(LargeStringArray::from(column(rows, j, f, string)?)),
        other => return Err(format!("column {} has unsupported type {other}", f.name())),
    })
}

/// Whether the sink can write a column of this type.
pub fn is_writable(t: &DataType) -> bool {
    use DataType::*;
    matches!(
        t,
        Boolean | Int8 | Int16 | Int32 | Int64 | Float32 | Float64 | Utf8 | LargeUtf8
    )
}

/// A batch of `rows` (each as long as the schema) in `schema`.
pub fn rows_to_batch(rows: &[Row], schema: &Arc<Schema>) -> Result<RecordBatch, String> {
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(j, f)| to_array(rows, j, f))
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_a_batch_and_mismatches_are_errors() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("i", DataType::Int32, false),
            Field::new("f", DataType::Float64, true),
            Field::new("b", DataType::Boolean, true),
        ]));
        let rows = vec![
            vec![
                Value::Str("a".into()),
                Value::Int(1),
                Value::Float(0.5),
                Value::Bool(true),
            ],
            vec![Value::Null, Value::Int(-7), Value::Null, Value::Null],
        ];
        let batch = rows_to_batch(&rows, &schema).unwrap();
        assert_eq!(batch_to_rows(&batch).unwrap(), rows);

        let wide = vec![vec![Value::Null, Value::Int(1 << 40), Value::Null, Value::Null]];
        let e = rows_to_batch(&wide, &schema).unwrap_err();
        assert!(
            e.contains("column i of type Int32 cannot hold Int(1099511627776)"),
            "{e}"
        );
        let null = vec![vec![Value::Null, Value::Null, Value::Null, Value::Null]];
        let e = rows_to_batch(&null, &schema).unwrap_err();
        assert!(e.contains("non-nullable"), "{e}");
        assert!(is_supported(&DataType::Utf8View) && !is_writable(&DataType::Date32));
    }
}
