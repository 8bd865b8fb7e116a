//! [`Value`]s to Arrow arrays of a field's type: exactly, or an error naming the column and the
//! value that does not fit.

use super::{TimeUnit, Value, NULL};
use arrow_array::builder::{GenericListBuilder, NullBuilder};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Date64Array, Decimal128Array,
    FixedSizeBinaryArray, Float32Array, Float64Array, GenericListArray, Int16Array, Int32Array, Int64Array,
    Int8Array, LargeBinaryArray, LargeStringArray, OffsetSizeTrait, StringArray, StructArray,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
    UInt16Array, UInt32Array, UInt64Array, UInt8Array,
};
use arrow_schema::{DataType, Field, FieldRef, Fields, TimeUnit as ArrowUnit};
use std::sync::Arc;

/// Milliseconds in a day (Date64).
const MILLIS_PER_DAY: i64 = 86_400_000;

/// `values` (a null for [`Value::Null`]) as an array of `field`'s type; `name` names the column
/// (or nested field) in errors.
pub(super) fn array(values: &[&Value], field: &Field, name: &str) -> Result<ArrayRef, String> {
    let t = field.data_type();
    Ok(match t {
        DataType::Boolean => Arc::new(BooleanArray::from(column(values, name, t, |v| match v {
            Value::Bool(b) => Some(*b),
            _ => None,
        })?)),
        DataType::Int8 => Arc::new(Int8Array::from(column(values, name, t, int::<i8>)?)),
        DataType::Int16 => Arc::new(Int16Array::from(column(values, name, t, int::<i16>)?)),
        DataType::Int32 => Arc::new(Int32Array::from(column(values, name, t, int::<i32>)?)),
        DataType::Int64 => Arc::new(Int64Array::from(column(values, name, t, int::<i64>)?)),
        DataType::UInt8 => Arc::new(UInt8Array::from(column(values, name, t, int::<u8>)?)),
        DataType::UInt16 => Arc::new(UInt16Array::from(column(values, name, t, int::<u16>)?)),
        DataType::UInt32 => Arc::new(UInt32Array::from(column(values, name, t, int::<u32>)?)),
        DataType::UInt64 => Arc::new(UInt64Array::from(column(values, name, t, int::<u64>)?)),
        DataType::Float32 => Arc::new(Float32Array::from(column(values, name, t, |v| {
            float(v).map(|x| x as f32)
        })?)),
        DataType::Float64 => Arc::new(Float64Array::from(column(values, name, t, float)?)),
        DataType::Utf8 => Arc::new(StringArray::from(column(values, name, t, string)?)),
        DataType::LargeUtf8 => Arc::new(LargeStringArray::from(column(values, name, t, string)?)),
        DataType::Binary => Arc::new(BinaryArray::from_opt_vec(column(values, name, t, bytes)?)),
        DataType::LargeBinary => Arc::new(LargeBinaryArray::from_opt_vec(column(values, name, t, bytes)?)),
        &DataType::FixedSizeBinary(size) => {
            let values = column(values, name, t, |v| {
                bytes(v).filter(|b| b.len() as i64 == i64::from(size))
            })?;
            let a = if values.iter().all(Option::is_none) {
                // The sparse constructor cannot tell the size from nulls alone.
                FixedSizeBinaryArray::new_null(size, values.len())
            } else {
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(values.into_iter(), size)
                    .map_err(|e| format!("column {name}: {e}"))?
            };
            Arc::new(a)
        }
        DataType::Date32 => Arc::new(Date32Array::from(column(values, name, t, |v| match v {
            Value::Date(d) => Some(*d),
            _ => None,
        })?)),
        DataType::Date64 => Arc::new(Date64Array::from(column(values, name, t, |v| match v {
            Value::Date(d) => i64::from(*d).checked_mul(MILLIS_PER_DAY),
            _ => None,
        })?)),
        DataType::Timestamp(unit, tz) => {
            let to = TimeUnit::from(*unit);
            let values = column(values, name, t, |v| match v {
                Value::Timestamp { value, unit, .. } => Value::timestamp_in(*value, *unit, to),
                _ => None,
            })?;
            let tz = tz.clone();
            match unit {
                ArrowUnit::Second => Arc::new(TimestampSecondArray::from(values).with_timezone_opt(tz)),
                ArrowUnit::Millisecond => {
                    Arc::new(TimestampMillisecondArray::from(values).with_timezone_opt(tz))
                }
                ArrowUnit::Microsecond => {
                    Arc::new(TimestampMicrosecondArray::from(values).with_timezone_opt(tz))
                }
                ArrowUnit::Nanosecond => {
                    Arc::new(TimestampNanosecondArray::from(values).with_timezone_opt(tz))
                }
            }
        }
        &DataType::Decimal128(precision, scale) => {
            let values = column(values, name, t, |v| decimal(v, precision, scale))?;
            Arc::new(
                Decimal128Array::from(values)
                    .with_precision_and_scale(precision, scale)
                    .map_err(|e| format!("column {name}: {e}"))?,
            )
        }
        DataType::List(item) => list::<i32>(values, item, name, t)?,
        DataType::LargeList(item) => list::<i64>(values, item, name, t)?,
        DataType::Struct(fields) => structs(values, fields, name, t)?,
        other => return Err(format!("column {name} has unsupported type {other}")),
    })
}

/// What a column of type `t` says when `v` does not fit it.
fn cannot_hold(name: &str, t: &DataType, v: &Value) -> String {
    format!("column {name} of type {t} cannot hold {v:?}")
}

/// `values` each converted by `get` (`None`: the value does not fit).
fn column<'a, V>(
    values: &[&'a Value],
    name: &str,
    t: &DataType,
    get: impl Fn(&'a Value) -> Option<V>,
) -> Result<Vec<Option<V>>, String> {
    values
        .iter()
        .map(|&v| match v {
            Value::Null => Ok(None),
            v => get(v).map(Some).ok_or_else(|| cannot_hold(name, t, v)),
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

fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::Bytes(b) => Some(b),
        _ => None,
    }
}

/// The unscaled value of `v` at `scale`, if no digit is lost and it has at most `precision`
/// digits. An `Int` is a decimal of scale 0.
fn decimal(v: &Value, precision: u8, scale: i8) -> Option<i128> {
    let (value, from) = match v {
        Value::Decimal { value, scale, .. } => (*value, *scale),
        Value::Int(i) => (i128::from(*i), 0),
        _ => return None,
    };
    let value = rescale(value, from, scale)?;
    let limit = 10u128.checked_pow(u32::from(precision))?;
    (value.unsigned_abs() < limit).then_some(value)
}

/// `value × 10^-from` as a multiple of `10^-to`, if exact.
fn rescale(value: i128, from: i8, to: i8) -> Option<i128> {
    let shift = i32::from(to) - i32::from(from);
    if value == 0 || shift == 0 {
        return Some(value);
    }
    let factor = 10i128.checked_pow(shift.unsigned_abs())?;
    if shift > 0 {
        value.checked_mul(factor)
    } else {
        (value % factor == 0).then_some(value / factor)
    }
}

/// A list column: the offsets and nulls come from a list builder over a null child (no data), the
/// items are converted as one array of the item field.
fn list<O: OffsetSizeTrait>(
    values: &[&Value],
    item: &FieldRef,
    name: &str,
    t: &DataType,
) -> Result<ArrayRef, String> {
    let mut shape = GenericListBuilder::<O, NullBuilder>::with_capacity(NullBuilder::new(), values.len());
    let mut items: Vec<&Value> = Vec::new();
    for &v in values {
        match v {
            Value::Null => shape.append_null(),
            Value::List(list) => {
                items.extend(list);
                shape.values().append_nulls(list.len());
                shape.append(true);
            }
            other => return Err(cannot_hold(name, t, other)),
        }
    }
    let (_, offsets, _, nulls) = shape.finish().into_parts();
    let items = array(&items, item, &format!("{name}[]"))?;
    let a = GenericListArray::<O>::try_new(item.clone(), offsets, items, nulls)
        .map_err(|e| format!("column {name}: {e}"))?;
    Ok(Arc::new(a))
}

/// A struct column: each field's values (found by name; missing ones are null) as one array.
fn structs(values: &[&Value], fields: &Fields, name: &str, t: &DataType) -> Result<ArrayRef, String> {
    let mut valid = Vec::with_capacity(values.len());
    let mut columns: Vec<Vec<&Value>> = vec![Vec::with_capacity(values.len()); fields.len()];
    for &v in values {
        match v {
            Value::Null => {
                valid.push(None);
                columns.iter_mut().for_each(|c| c.push(&NULL));
            }
            Value::Struct(entries) => {
                if let Some((unknown, _)) = entries.iter().find(|(n, _)| fields.find(n).is_none()) {
                    return Err(format!("column {name} of type {t} has no field {unknown:?}"));
                }
                valid.push(Some(true));
                for (c, f) in columns.iter_mut().zip(fields) {
                    let value = entries.iter().find(|(n, _)| n == f.name());
                    c.push(value.map_or(&NULL, |(_, v)| v));
                }
            }
            other => return Err(cannot_hold(name, t, other)),
        }
    }
    let arrays = columns
        .iter()
        .zip(fields)
        .map(|(c, f)| array(c, f, &format!("{name}.{}", f.name())))
        .collect::<Result<Vec<_>, _>>()?;
    // The validity as a null buffer, without naming arrow-buffer's type.
    let nulls = BooleanArray::from(valid).nulls().cloned();
    let a = StructArray::try_new_with_length(fields.clone(), arrays, nulls, values.len())
        .map_err(|e| format!("column {name}: {e}"))?;
    Ok(Arc::new(a))
}
