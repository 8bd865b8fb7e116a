//! Parquet's richer types on HDFS against pyarrow: dates, timestamps (three units, with and
//! without a zone), decimals, lists, structs and binary, in a file pyarrow writes (with and
//! without its Arrow schema) read by Spate, and in Spate's output read by pyarrow.

use crate::fixture::{hadoop, unique};
use crate::parquet::{pyarrow, python};
use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit as ArrowUnit};
use spate::StreamEnv;
use spate_connectors::hdfs::{ParquetSink, ParquetSource, Row, TimeUnit, Value};
use std::sync::Arc;

/// Rows in the test data (several row groups of 10 000).
const ROWS: i64 = 30_000;

/// Row `i` of the test data; `WRITE_TYPED` computes the same in Python.
fn row(i: i64) -> Row {
    let ts = |value, unit, utc| Value::Timestamp { value, unit, utc };
    vec![
        Value::Int(i),
        if i % 7 == 0 {
            Value::Null
        } else {
            Value::Date((i * 37 - 20_000) as i32)
        },
        ts(
            i * 1_000_003_007 - 500_000_000_000_000,
            TimeUnit::Microsecond,
            false,
        ),
        if i % 5 == 0 {
            Value::Null
        } else {
            ts(1_700_000_000_000 + i * 1001, TimeUnit::Millisecond, true)
        },
        ts(
            1_700_000_000_000_000_000 + i * 123_456_789,
            TimeUnit::Nanosecond,
            true,
        ),
        if i % 9 == 0 {
            Value::Null
        } else {
            Value::Decimal {
                value: i128::from(i * 7919 - 50_000_000),
                precision: 12,
                scale: 3,
            }
        },
        if i % 11 == 0 {
            Value::Null
        } else {
            Value::List((0..i % 4).map(|j| Value::Str(format!("t{j}"))).collect())
        },
        if i % 13 == 0 {
            Value::Null
        } else {
            Value::Struct(vec![
                ("x".into(), Value::Float(i as f64 * 0.25)),
                (
                    "y".into(),
                    if i % 3 == 0 {
                        Value::Null
                    } else {
                        Value::Int(i % 1000)
                    },
                ),
                ("name".into(), Value::Str(format!("p{i}"))),
            ])
        },
        Value::Bytes([(i % 256) as u8, (i * 7 % 256) as u8].repeat((i % 3) as usize)),
    ]
}

/// The schema of [`row`], as Spate's sink writes it.
fn schema() -> Arc<Schema> {
    let item = Arc::new(Field::new("item", DataType::Utf8, true));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("d", DataType::Date32, true),
        Field::new("ts_us", DataType::Timestamp(ArrowUnit::Microsecond, None), false),
        Field::new(
            "ts_ms_utc",
            DataType::Timestamp(ArrowUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new(
            "ts_ns_paris",
            DataType::Timestamp(ArrowUnit::Nanosecond, Some("Europe/Paris".into())),
            false,
        ),
        Field::new("dec", DataType::Decimal128(12, 3), true),
        Field::new("tags", DataType::List(item), true),
        Field::new(
            "pt",
            DataType::Struct(Fields::from(vec![
                Field::new("x", DataType::Float64, true),
                Field::new("y", DataType::Int32, true),
                Field::new("name", DataType::Utf8, true),
            ])),
            true,
        ),
        Field::new("blob", DataType::Binary, false),
    ]))
}

/// The types pyarrow reports for [`schema`].
const PY_TYPES: &str = "id int64
d date32[day]
ts_us timestamp[us]
ts_ms_utc timestamp[ms, tz=UTC]
ts_ns_paris timestamp[ns, tz=Europe/Paris]
dec decimal128(12, 3)
tags list<item: string>
pt struct<x: double, y: int32, name: string>
blob binary";

const WRITE_TYPED: &str = r#"
import sys, datetime, decimal, pyarrow as pa, pyarrow.parquet as pq
path, n, store_schema = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
ids = range(n)
epoch = datetime.date(1970, 1, 1)
table = pa.table({
    "id": pa.array(ids, pa.int64()),
    "d": pa.array([None if i % 7 == 0 else epoch + datetime.timedelta(days=i * 37 - 20000) for i in ids], pa.date32()),
    "ts_us": pa.array([i * 1000003007 - 500000000000000 for i in ids], pa.timestamp("us")),
    "ts_ms_utc": pa.array([None if i % 5 == 0 else 1700000000000 + i * 1001 for i in ids], pa.timestamp("ms", tz="UTC")),
    "ts_ns_paris": pa.array([1700000000000000000 + i * 123456789 for i in ids], pa.timestamp("ns", tz="Europe/Paris")),
    "dec": pa.array([None if i % 9 == 0 else decimal.Decimal(i * 7919 - 50000000).scaleb(-3) for i in ids], pa.decimal128(12, 3)),
    "tags": pa.array([None if i % 11 == 0 else ["t%d" % j for j in range(i % 4)] for i in ids], pa.list_(pa.string())),
    "pt": pa.array([None if i % 13 == 0 else {"x": i * 0.25, "y": None if i % 3 == 0 else i % 1000, "name": "p%d" % i} for i in ids],
                   pa.struct([("x", pa.float64()), ("y", pa.int32()), ("name", pa.string())])),
    "blob": pa.array([bytes([i % 256, i * 7 % 256]) * (i % 3) for i in ids], pa.binary()),
})
pq.write_table(table, path, row_group_size=10000, store_schema=store_schema)
print(pq.ParquetFile(path).metadata.num_row_groups)
"#;

/// Prints each column's type, then each row in the canonical form of [`canon`].
const PRINT_TYPED: &str = r#"
import sys, glob, json, datetime, decimal, pyarrow as pa, pyarrow.parquet as pq
def canon(v):
    if v is None: return "null"
    if isinstance(v, bool): return "true" if v else "false"
    if isinstance(v, (int, float)): return repr(v)
    if isinstance(v, str): return json.dumps(v)
    if isinstance(v, bytes): return "0x" + v.hex()
    if isinstance(v, datetime.date): return v.isoformat()
    if isinstance(v, decimal.Decimal): return format(v, "f")
    if isinstance(v, list): return "[" + ",".join(canon(x) for x in v) + "]"
    if isinstance(v, dict): return "{" + ",".join(k + ":" + canon(x) for k, x in v.items()) + "}"
    raise TypeError(type(v))
files = sorted(glob.glob(sys.argv[1] + "/part-*"))
print("files", len(files))
table = pa.concat_tables(pq.read_table(f) for f in files)
for field in table.schema:
    print("type", field.name, field.type)
# Timestamps as their integers (nanoseconds do not fit Python's datetime).
columns = [c.cast(pa.int64()) if pa.types.is_timestamp(c.type) else c for c in table.columns]
for row in pa.table(columns, names=table.column_names).to_pylist():
    print("\t".join(canon(v) for v in row.values()))
"#;

/// A value as `PRINT_TYPED` prints it.
fn canon(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Str(s) => format!("\"{s}\""),
        Value::Bytes(b) => format!("0x{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
        Value::Date(d) => iso_date(*d),
        Value::Timestamp { value, .. } => value.to_string(),
        Value::Decimal { value, scale, .. } => {
            let digits = format!("{:0>width$}", value.unsigned_abs(), width = *scale as usize + 1);
            let (int, frac) = digits.split_at(digits.len() - *scale as usize);
            let sign = if *value < 0 { "-" } else { "" };
            format!("{sign}{int}.{frac}")
        }
        Value::List(items) => format!("[{}]", items.iter().map(canon).collect::<Vec<_>>().join(",")),
        Value::Struct(fields) => {
            let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}:{}", canon(v))).collect();
            format!("{{{}}}", fields.join(","))
        }
        other => panic!("no such value in this data: {other:?}"),
    }
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01; the civil calendar algorithm of
/// H. Hinnant's `civil_from_days`).
fn iso_date(days: i32) -> String {
    let z = i64::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[test]
fn iso_dates_follow_the_calendar() {
    assert_eq!(iso_date(0), "1970-01-01");
    assert_eq!(iso_date(-1), "1969-12-31");
    assert_eq!(iso_date(19_723), "2024-01-01");
    assert_eq!(iso_date(11_016), "2000-02-29");
}

#[test]
fn dates_timestamps_decimals_lists_and_structs_written_by_pyarrow_are_read_by_spate() {
    let Some(h) = hadoop("parquet_types_read") else {
        return;
    };
    if !pyarrow("parquet_types_read") {
        return;
    }
    let local = tempfile::tempdir().unwrap();
    let dir = unique("parquet-types-in");
    h.cli(&["fs", "-mkdir", "-p", &dir]);
    // With pyarrow's Arrow schema in the footer, and with Parquet's own logical types only.
    for (name, store_schema) in [("arrow.parquet", "1"), ("plain.parquet", "0")] {
        let file = local.path().join(name);
        let groups = python(
            WRITE_TYPED,
            &[file.to_str().unwrap(), &ROWS.to_string(), store_schema],
        );
        assert_eq!(groups.trim(), "3");
        h.cli(&["fs", "-put", file.to_str().unwrap(), &format!("{dir}/{name}")]);
    }
    let splits = ParquetSource::new(h.uri(&dir)).splits().unwrap();
    assert_eq!(splits.len(), 6, "a split per row group: {splits:?}");

    let expected: Vec<Row> = (0..ROWS).map(row).collect();
    for file in ["arrow.parquet", "plain.parquet"] {
        let env = StreamEnv::local();
        env.set_parallelism(2);
        let rows = env
            .from_source(ParquetSource::new(h.uri(&format!("{dir}/{file}"))))
            .collect();
        env.execute("read typed parquet from hdfs").unwrap();
        let mut got = rows.take();
        got.sort_by_key(|r| match r[0] {
            Value::Int(i) => i,
            _ => panic!("id {:?}", r[0]),
        });
        assert_eq!(got.len(), expected.len(), "{file}");
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(g, e, "{file}");
        }
    }
}

#[test]
fn dates_timestamps_decimals_lists_and_structs_written_by_spate_are_read_by_pyarrow() {
    let Some(h) = hadoop("parquet_types_write") else {
        return;
    };
    if !pyarrow("parquet_types_write") {
        return;
    }
    let rows: Vec<Row> = (0..ROWS).map(row).collect();
    let out = unique("parquet-types-out");
    let env = StreamEnv::local();
    env.set_parallelism(2);
    env.from_collection(rows.clone())
        .sink_to(ParquetSink::new(h.uri(&out), schema()).with_row_group_rows(5_000));
    env.execute("write typed parquet to hdfs").unwrap();

    let local = tempfile::tempdir().unwrap();
    let local_out = local.path().join("out");
    h.cli(&["fs", "-get", &out, local_out.to_str().unwrap()]);
    let printed = python(PRINT_TYPED, &[local_out.to_str().unwrap()]);
    let mut lines = printed.lines();
    assert_eq!(lines.next(), Some("files 2"));
    let types: Vec<&str> = lines
        .by_ref()
        .take(9)
        .map(|l| l.trim_start_matches("type "))
        .collect();
    assert_eq!(types.join("\n"), PY_TYPES);
    let mut got: Vec<&str> = lines.collect();
    got.sort();
    let expected: Vec<String> = rows
        .iter()
        .map(|r| r.iter().map(canon).collect::<Vec<_>>().join("\t"))
        .collect();
    let mut expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g, e);
    }
}
