//! Arrow arrays to [`Value`]s, recursing into lists, structs and dictionaries.

use super::{TimeUnit, Value};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Date32Type, Date64Type, Decimal128Type, Decimal256Type, Decimal32Type, Decimal64Type,
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, GenericListArray, OffsetSizeTrait};
use arrow_schema::{DataType, TimeUnit as ArrowUnit};

/// Milliseconds in a day (Date64).
const MILLIS_PER_DAY: i64 = 86_400_000;

/// The values of `a`, a column (or a nested field) called `name` in errors.
pub(super) fn values(a: &dyn Array, name: &str) -> Result<Vec<Value>, String> {
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
        DataType::UInt64 => try_prims::<UInt64Type>(a, |v| {
            i64::try_from(v)
                .map(Value::Int)
                .map_err(|_| format!("column {name}: value {v} beyond i64"))
        })?,
        DataType::Float32 => prims::<Float32Type>(a, |v| Value::Float(v.into())),
        DataType::Float64 => prims::<Float64Type>(a, Value::Float),
        DataType::Utf8 => strs(a.as_string::<i32>().iter()),
        DataType::LargeUtf8 => strs(a.as_string::<i64>().iter()),
        DataType::Utf8View => strs(a.as_string_view().iter()),
        DataType::Binary => bytes(a.as_binary::<i32>().iter()),
        DataType::LargeBinary => bytes(a.as_binary::<i64>().iter()),
        DataType::BinaryView => bytes(a.as_binary_view().iter()),
        DataType::FixedSizeBinary(_) => bytes(a.as_fixed_size_binary().iter()),
        DataType::Date32 => prims::<Date32Type>(a, Value::Date),
        DataType::Date64 => try_prims::<Date64Type>(a, |ms| {
            i32::try_from(ms.div_euclid(MILLIS_PER_DAY))
                .map(Value::Date)
                .map_err(|_| format!("column {name}: date {ms} ms beyond the range of days"))
        })?,
        DataType::Timestamp(unit, tz) => {
            let (unit, utc) = (TimeUnit::from(*unit), tz.is_some());
            let ts = move |value: i64| Value::Timestamp { value, unit, utc };
            match unit.into() {
                ArrowUnit::Second => prims::<TimestampSecondType>(a, ts),
                ArrowUnit::Millisecond => prims::<TimestampMillisecondType>(a, ts),
                ArrowUnit::Microsecond => prims::<TimestampMicrosecondType>(a, ts),
                ArrowUnit::Nanosecond => prims::<TimestampNanosecondType>(a, ts),
            }
        }
        &DataType::Decimal32(precision, scale) => prims::<Decimal32Type>(a, |v| Value::Decimal {
            value: v.into(),
            precision,
            scale,
        }),
        &DataType::Decimal64(precision, scale) => prims::<Decimal64Type>(a, |v| Value::Decimal {
            value: v.into(),
            precision,
            scale,
        }),
        &DataType::Decimal128(precision, scale) => prims::<Decimal128Type>(a, |value| Value::Decimal {
            value,
            precision,
            scale,
        }),
        &DataType::Decimal256(precision, scale) => try_prims::<Decimal256Type>(a, |v| {
            let value = v
                .to_i128()
                .ok_or_else(|| format!("column {name}: decimal {v} beyond i128"))?;
            Ok(Value::Decimal {
                value,
                precision: precision.min(38),
                scale,
            })
        })?,
        DataType::List(_) => list(a.as_list::<i32>(), name)?,
        DataType::LargeList(_) => list(a.as_list::<i64>(), name)?,
        DataType::Struct(_) => {
            let s = a.as_struct();
            let mut children = Vec::with_capacity(s.num_columns());
            for (c, f) in s.columns().iter().zip(s.fields()) {
                children.push(values(c.as_ref(), &format!("{name}.{}", f.name()))?.into_iter());
            }
            (0..s.len())
                .map(|i| {
                    let fields: Vec<(String, Value)> = children
                        .iter_mut()
                        .zip(s.fields())
                        .map(|(c, f)| (f.name().clone(), c.next().unwrap_or(Value::Null)))
                        .collect();
                    if s.is_null(i) {
                        Value::Null
                    } else {
                        Value::Struct(fields)
                    }
                })
                .collect()
        }
        DataType::Dictionary(..) => {
            let d = a.as_any_dictionary();
            let dictionary = values(d.values().as_ref(), name)?;
            if dictionary.is_empty() {
                // Only null keys can point into an empty dictionary.
                return Ok(vec![Value::Null; a.len()]);
            }
            let keys = d.normalized_keys();
            (0..a.len())
                .map(|i| {
                    if a.is_null(i) {
                        Value::Null
                    } else {
                        dictionary[keys[i]].clone()
                    }
                })
                .collect()
        }
        other => return Err(format!("column {name} has unsupported type {other}")),
    })
}

fn prims<T: ArrowPrimitiveType>(a: &dyn Array, f: impl Fn(T::Native) -> Value) -> Vec<Value> {
    a.as_primitive::<T>()
        .iter()
        .map(|v| v.map_or(Value::Null, &f))
        .collect()
}

fn try_prims<T: ArrowPrimitiveType>(
    a: &dyn Array,
    f: impl Fn(T::Native) -> Result<Value, String>,
) -> Result<Vec<Value>, String> {
    a.as_primitive::<T>()
        .iter()
        .map(|v| v.map_or(Ok(Value::Null), &f))
        .collect()
}

fn strs<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Vec<Value> {
    values
        .map(|v| v.map_or(Value::Null, |s| Value::Str(s.to_string())))
        .collect()
}

fn bytes<'a>(values: impl Iterator<Item = Option<&'a [u8]>>) -> Vec<Value> {
    values
        .map(|v| v.map_or(Value::Null, |b| Value::Bytes(b.to_vec())))
        .collect()
}

/// The lists of `a`: its items converted once, then cut at the offsets (list `i` is items
/// `offsets[i]..offsets[i + 1]`, so the lists follow each other).
fn list<O: OffsetSizeTrait>(a: &GenericListArray<O>, name: &str) -> Result<Vec<Value>, String> {
    let offsets = a.value_offsets();
    let (first, last) = (offsets[0].as_usize(), offsets[a.len()].as_usize());
    let items = a.values().slice(first, last - first);
    let mut items = values(items.as_ref(), &format!("{name}[]"))?.into_iter();
    Ok((0..a.len())
        .map(|i| {
            let len = offsets[i + 1].as_usize() - offsets[i].as_usize();
            let list: Vec<Value> = items.by_ref().take(len).collect();
            if a.is_null(i) {
                Value::Null
            } else {
                Value::List(list)
            }
        })
        .collect())
}

impl From<TimeUnit> for ArrowUnit {
    fn from(u: TimeUnit) -> Self {
        match u {
            TimeUnit::Second => ArrowUnit::Second,
            TimeUnit::Millisecond => ArrowUnit::Millisecond,
            TimeUnit::Microsecond => ArrowUnit::Microsecond,
            TimeUnit::Nanosecond => ArrowUnit::Nanosecond,
        }
    }
}
