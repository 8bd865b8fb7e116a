//! Rows of Parquet files: [`Value`]s converted from and to Arrow record batches.
//!
//! | Arrow type (as the `parquet` crate reads it)             | [`Value`]                               |
//! |----------------------------------------------------------|-----------------------------------------|
//! | Null                                                     | `Null`                                  |
//! | Boolean                                                  | `Bool`                                  |
//! | Int8–Int64, UInt8–UInt64 (UInt64 only up to `i64::MAX`)  | `Int`                                   |
//! | Float32, Float64                                         | `Float`                                 |
//! | Utf8, LargeUtf8, Utf8View                                | `Str`                                   |
//! | Binary, LargeBinary, BinaryView, FixedSizeBinary         | `Bytes`                                 |
//! | Date32, Date64                                           | `Date` (days since 1970-01-01)          |
//! | Timestamp(unit, zone)                                    | `Timestamp { value, unit, utc }`        |
//! | Decimal32/64/128, Decimal256 (values within `i128`)      | `Decimal { value, precision, scale }`   |
//! | List, LargeList                                          | `List`                                  |
//! | Struct                                                   | `Struct` (field names with values)      |
//! | Dictionary(_, values)                                    | the values' kind                        |
//!
//! Decimals stay exact: `value × 10^-scale` as an `i128` (the type of Parquet's and Arrow's
//! decimals up to 38 digits), not a float and not a string. A timestamp keeps the column's unit;
//! `utc` says whether the column has a time zone, in which case `value` counts from the Unix epoch
//! in UTC (Arrow's rule) and the zone's name is only how the column is displayed; without one it
//! is a wall-clock time. Date64's milliseconds are whole days in Arrow, and become days.
//!
//! The sink converts the other way for the types of its schema (every type above except Null,
//! Utf8View/BinaryView, Decimal32/64/256, negative decimal scales and dictionaries), exactly or
//! not at all: a timestamp changes unit only when no digit is lost, a decimal is rescaled only
//! when no digit is lost and must fit the column's precision (the value's own precision is not
//! used), an `Int` fits a decimal or float column. A struct's values are matched by field name (a
//! missing field is null). Anything else is an error naming the column and the value.

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Schema};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

mod from_arrow;
mod to_arrow;

/// One value of a row (more kinds may come, for more Arrow types).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// A byte string (binary and fixed-size binary columns).
    Bytes(Vec<u8>),
    /// A date: days since 1970-01-01.
    Date(i32),
    /// A point in time: `value` `unit`s since 1970-01-01T00:00:00; `utc`: the column has a time
    /// zone, so this is an instant counted in UTC (otherwise a wall-clock time without zone).
    Timestamp {
        /// Units since the epoch (negative before it).
        value: i64,
        /// The unit of `value`.
        unit: TimeUnit,
        /// The column has a time zone.
        utc: bool,
    },
    /// An exact decimal number, `value × 10^-scale`, of at most `precision` digits.
    Decimal {
        /// The unscaled value (`12345` with scale 2 is 123.45).
        value: i128,
        /// The column's total number of digits (1 to 38).
        precision: u8,
        /// Digits after the decimal point.
        scale: i8,
    },
    /// A list of values.
    List(Vec<Value>),
    /// A struct: its fields' names and values, in the struct type's order.
    Struct(Vec<(String, Value)>),
}

/// The unit of a [`Value::Timestamp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimeUnit {
    /// Seconds.
    Second,
    /// Milliseconds.
    Millisecond,
    /// Microseconds.
    Microsecond,
    /// Nanoseconds.
    Nanosecond,
}

impl TimeUnit {
    /// Units in one second.
    pub fn per_second(self) -> i64 {
        match self {
            TimeUnit::Second => 1,
            TimeUnit::Millisecond => 1_000,
            TimeUnit::Microsecond => 1_000_000,
            TimeUnit::Nanosecond => 1_000_000_000,
        }
    }
}

impl From<arrow_schema::TimeUnit> for TimeUnit {
    fn from(u: arrow_schema::TimeUnit) -> Self {
        match u {
            arrow_schema::TimeUnit::Second => TimeUnit::Second,
            arrow_schema::TimeUnit::Millisecond => TimeUnit::Millisecond,
            arrow_schema::TimeUnit::Microsecond => TimeUnit::Microsecond,
            arrow_schema::TimeUnit::Nanosecond => TimeUnit::Nanosecond,
        }
    }
}

impl Value {
    /// `value` in `unit`, or `None` if that loses digits or overflows.
    pub fn timestamp_in(value: i64, from: TimeUnit, to: TimeUnit) -> Option<i64> {
        let (f, t) = (from.per_second(), to.per_second());
        if t >= f {
            value.checked_mul(t / f)
        } else {
            let d = f / t;
            (value % d == 0).then_some(value / d)
        }
    }
}

/// One row: a value per column, in the schema's order.
pub type Row = Vec<Value>;

/// Whether a column of this type can be read into [`Value`]s.
pub fn is_supported(t: &DataType) -> bool {
    use DataType::*;
    match t {
        Null | Boolean | Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 | Float32
        | Float64 | Utf8 | LargeUtf8 | Utf8View | Binary | LargeBinary | BinaryView | FixedSizeBinary(_)
        | Date32 | Date64 | Timestamp(..) | Decimal32(..) | Decimal64(..) | Decimal128(..)
        | Decimal256(..) => true,
        List(f) | LargeList(f) => is_supported(f.data_type()),
        Struct(fields) => fields.iter().all(|f| is_supported(f.data_type())),
        Dictionary(_, values) => is_supported(values),
        _ => false,
    }
}

/// Whether the sink can write a column of this type.
pub fn is_writable(t: &DataType) -> bool {
    use DataType::*;
    match t {
        Boolean | Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 | Float32 | Float64
        | Utf8 | LargeUtf8 | Binary | LargeBinary | FixedSizeBinary(_) | Date32 | Date64 | Timestamp(..) => {
            true
        }
        // Parquet has no negative scales.
        Decimal128(_, scale) => *scale >= 0,
        List(f) | LargeList(f) => is_writable(f.data_type()),
        Struct(fields) => fields.iter().all(|f| is_writable(f.data_type())),
        _ => false,
    }
}

/// The rows of a batch.
pub fn batch_to_rows(batch: &RecordBatch) -> Result<Vec<Row>, String> {
    let schema = batch.schema();
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (a, field) in batch.columns().iter().zip(schema.fields()) {
        columns.push(from_arrow::values(a.as_ref(), field.name())?.into_iter());
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

/// A batch of `rows` (each as long as the schema) in `schema`.
pub fn rows_to_batch(rows: &[Row], schema: &Arc<Schema>) -> Result<RecordBatch, String> {
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(j, f)| {
            let values: Vec<&Value> = rows.iter().map(|r| r.get(j).unwrap_or(&NULL)).collect();
            to_arrow::array(&values, f, f.name())
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())
}

/// A null to stand in for a missing value.
static NULL: Value = Value::Null;

#[cfg(test)]
mod tests;
