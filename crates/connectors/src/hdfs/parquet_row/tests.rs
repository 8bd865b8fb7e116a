use super::*;
use arrow_array::builder::{StringDictionaryBuilder, UInt64Builder};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, BinaryViewArray, Decimal256Array, Decimal64Array, ListArray, RecordBatch};
use arrow_schema::{Field, Fields, TimeUnit as ArrowUnit};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

/// `batch` written to an in-memory Parquet file and read back, one batch.
fn through_parquet(batch: &RecordBatch) -> RecordBatch {
    let mut file = Vec::new();
    let mut w = ArrowWriter::try_new(&mut file, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(file))
        .unwrap()
        .with_batch_size(1 << 20)
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(batches.len(), 1);
    batches.into_iter().next().unwrap()
}

/// Rows → batch → Parquet → batch → rows gives the rows back, and the file keeps the types.
fn round_trip(schema: Schema, rows: &[Row]) {
    let schema = Arc::new(schema);
    let batch = rows_to_batch(rows, &schema).unwrap();
    let back = through_parquet(&batch);
    assert_eq!(back.schema().fields(), schema.fields());
    assert_eq!(batch_to_rows(&back).unwrap(), rows);
}

fn ts(value: i64, unit: TimeUnit, utc: bool) -> Value {
    Value::Timestamp { value, unit, utc }
}

fn dec(value: i128, precision: u8, scale: i8) -> Value {
    Value::Decimal {
        value,
        precision,
        scale,
    }
}

fn item(t: DataType) -> Arc<Field> {
    Arc::new(Field::new("item", t, true))
}

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
    assert!(is_supported(&DataType::Utf8View) && !is_writable(&DataType::Utf8View));
    assert!(is_writable(&DataType::Date32) && !is_writable(&DataType::Float16));
    assert!(is_supported(&DataType::Decimal128(3, -2)) && !is_writable(&DataType::Decimal128(3, -2)));
}

#[test]
fn dates_and_timestamps_of_every_unit_round_trip() {
    use TimeUnit::*;
    let schema = Schema::new(vec![
        Field::new("d32", DataType::Date32, true),
        Field::new("d64", DataType::Date64, true),
        Field::new("s", DataType::Timestamp(ArrowUnit::Second, None), true),
        Field::new(
            "ms_utc",
            DataType::Timestamp(ArrowUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new(
            "us_plus2",
            DataType::Timestamp(ArrowUnit::Microsecond, Some("+02:00".into())),
            true,
        ),
        Field::new("ns", DataType::Timestamp(ArrowUnit::Nanosecond, None), true),
        Field::new(
            "ns_ny",
            DataType::Timestamp(ArrowUnit::Nanosecond, Some("America/New_York".into())),
            false,
        ),
    ]);
    let rows = vec![
        vec![
            Value::Date(19_723), // 2024-01-01
            Value::Date(-1),
            ts(1_700_000_000, Second, false),
            ts(-1, Millisecond, true),
            ts(1_704_067_200_123_456, Microsecond, true),
            ts(1_704_067_200_123_456_789, Nanosecond, false),
            ts(i64::MIN + 1, Nanosecond, true),
        ],
        vec![
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            ts(0, Nanosecond, true),
        ],
    ];
    round_trip(schema, &rows);
}

#[test]
fn decimals_stay_exact_and_bytes_round_trip() {
    let schema = Schema::new(vec![
        Field::new("price", DataType::Decimal128(10, 2), true),
        Field::new("wide", DataType::Decimal128(38, 10), true),
        Field::new("bin", DataType::Binary, true),
        Field::new("lbin", DataType::LargeBinary, true),
        Field::new("fixed", DataType::FixedSizeBinary(4), true),
    ]);
    let max38 = 10i128.pow(38) - 1;
    let rows = vec![
        vec![
            dec(12_345, 10, 2),
            dec(max38, 38, 10),
            Value::Bytes(vec![0, 255, 10, 13]),
            Value::Bytes(Vec::new()),
            Value::Bytes(b"abcd".to_vec()),
        ],
        vec![
            dec(-9_999_999_999, 10, 2),
            dec(-max38, 38, 10),
            Value::Null,
            Value::Bytes(vec![7; 1000]),
            Value::Null,
        ],
        vec![
            Value::Null,
            dec(1, 38, 10),
            Value::Bytes(vec![]),
            Value::Null,
            Value::Null,
        ],
    ];
    round_trip(schema, &rows);
}

#[test]
fn lists_and_structs_nest_and_round_trip() {
    let point = Fields::from(vec![
        Field::new("x", DataType::Float64, false),
        Field::new("tag", DataType::Utf8, true),
    ]);
    let schema = Schema::new(vec![
        Field::new("ints", DataType::List(item(DataType::Int32)), true),
        Field::new("names", DataType::LargeList(item(DataType::Utf8)), true),
        Field::new(
            "matrix",
            DataType::List(item(DataType::List(item(DataType::Int64)))),
            true,
        ),
        Field::new(
            "person",
            DataType::Struct(Fields::from(vec![
                Field::new("id", DataType::Int64, false),
                Field::new("born", DataType::Date32, true),
                Field::new("scores", DataType::List(item(DataType::Decimal128(5, 1))), true),
                Field::new("home", DataType::Struct(point.clone()), true),
            ])),
            true,
        ),
        Field::new("points", DataType::List(item(DataType::Struct(point))), true),
    ]);
    let pt = |x: f64, tag: Option<&str>| {
        Value::Struct(vec![
            ("x".into(), Value::Float(x)),
            ("tag".into(), tag.map_or(Value::Null, |t| Value::Str(t.into()))),
        ])
    };
    let person = |id: i64, home: Value| {
        Value::Struct(vec![
            ("id".into(), Value::Int(id)),
            ("born".into(), Value::Date(-365)),
            (
                "scores".into(),
                Value::List(vec![dec(15, 5, 1), Value::Null, dec(-9999, 5, 1)]),
            ),
            ("home".into(), home),
        ])
    };
    let rows = vec![
        vec![
            Value::List(vec![Value::Int(1), Value::Null, Value::Int(-3)]),
            Value::List(vec![Value::Str("a".into()), Value::Str("".into())]),
            Value::List(vec![
                Value::List(vec![Value::Int(1), Value::Int(2)]),
                Value::List(vec![]),
                Value::Null,
            ]),
            person(1, pt(0.5, Some("home"))),
            Value::List(vec![pt(1.0, None), Value::Null, pt(-2.5, Some("p"))]),
        ],
        vec![
            Value::Null,
            Value::List(vec![]),
            Value::List(vec![]),
            Value::Null,
            Value::Null,
        ],
        vec![
            Value::List(vec![]),
            Value::Null,
            Value::Null,
            person(2, Value::Null),
            Value::List(vec![]),
        ],
    ];
    round_trip(schema, &rows);
}

#[test]
fn the_sink_converts_exactly_or_not_at_all() {
    let one = |t: DataType, v: Value| {
        let schema = Arc::new(Schema::new(vec![Field::new("c", t, true)]));
        rows_to_batch(&[vec![v]], &schema).and_then(|b| batch_to_rows(&b).map(|mut r| r.remove(0).remove(0)))
    };
    let us = |v| ts(v, TimeUnit::Microsecond, false);
    let ns = DataType::Timestamp(ArrowUnit::Nanosecond, Some("UTC".into()));
    assert_eq!(one(ns, us(5)).unwrap(), ts(5_000, TimeUnit::Nanosecond, true));
    let secs = DataType::Timestamp(ArrowUnit::Second, None);
    assert_eq!(
        one(secs.clone(), us(7_000_000)).unwrap(),
        ts(7, TimeUnit::Second, false)
    );
    let e = one(secs, us(7_000_001)).unwrap_err();
    assert!(
        e.contains("column c of type Timestamp(s) cannot hold Timestamp"),
        "{e}"
    );
    let e = one(
        DataType::Timestamp(ArrowUnit::Nanosecond, None),
        ts(i64::MAX, TimeUnit::Second, false),
    );
    assert!(e.is_err());

    let d = DataType::Decimal128(6, 2);
    assert_eq!(one(d.clone(), dec(15, 3, 1)).unwrap(), dec(150, 6, 2));
    assert_eq!(one(d.clone(), Value::Int(-42)).unwrap(), dec(-4200, 6, 2));
    assert_eq!(one(d.clone(), dec(12_300, 9, 4)).unwrap(), dec(123, 6, 2));
    assert!(one(d.clone(), dec(12_345, 9, 4)).is_err(), "a lost digit");
    assert!(
        one(d.clone(), Value::Int(10_000)).is_err(),
        "seven digits for six"
    );
    assert!(one(d, Value::Float(1.5)).is_err());

    assert!(one(DataType::FixedSizeBinary(2), Value::Bytes(vec![1, 2, 3])).is_err());
    assert_eq!(
        one(DataType::FixedSizeBinary(2), Value::Null).unwrap(),
        Value::Null
    );
    assert!(one(DataType::Date32, ts(0, TimeUnit::Second, false)).is_err());
    assert_eq!(one(DataType::Date64, Value::Date(3)).unwrap(), Value::Date(3));
    assert!(one(DataType::UInt8, Value::Int(-1)).is_err());
    assert_eq!(one(DataType::UInt64, Value::Int(7)).unwrap(), Value::Int(7));

    let st = DataType::Struct(Fields::from(vec![
        Field::new("a", DataType::Int32, false),
        Field::new("b", DataType::Utf8, true),
    ]));
    let got = one(st.clone(), Value::Struct(vec![("a".into(), Value::Int(1))])).unwrap();
    assert_eq!(
        got,
        Value::Struct(vec![("a".into(), Value::Int(1)), ("b".into(), Value::Null)]),
        "a missing field is null"
    );
    let e = one(st.clone(), Value::Struct(vec![("zz".into(), Value::Int(1))])).unwrap_err();
    assert!(e.contains("has no field \"zz\""), "{e}");
    let e = one(st, Value::Struct(vec![("b".into(), Value::Str("x".into()))])).unwrap_err();
    assert!(e.contains("column c"), "a null in non-nullable c.a: {e}");
    let strict = DataType::List(Arc::new(Field::new("item", DataType::Int32, false)));
    let e = one(strict.clone(), Value::List(vec![Value::Null])).unwrap_err();
    assert!(e.contains("column c"), "{e}");
    let e = one(strict, Value::List(vec![Value::Str("x".into())])).unwrap_err();
    assert!(
        e.contains("column c[] of type Int32 cannot hold Str(\"x\")"),
        "{e}"
    );
}

#[test]
fn arrays_parquet_can_hand_back_are_read_too() {
    let mut dict = StringDictionaryBuilder::<Int32Type>::new();
    dict.append_value("x");
    dict.append_null();
    dict.append_value("y");
    dict.append_value("x");
    let mut big = UInt64Builder::new();
    big.append_value(1);
    big.append_value(u64::MAX);
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("dict", Arc::new(dict.finish())),
        (
            "view",
            Arc::new(BinaryViewArray::from(vec![
                Some(&b"v"[..]),
                None,
                Some(b""),
                Some(b"w"),
            ])),
        ),
        (
            "d64",
            Arc::new(
                Decimal64Array::from(vec![Some(5), None, Some(-5), Some(0)])
                    .with_precision_and_scale(18, 3)
                    .unwrap(),
            ),
        ),
        (
            "d256",
            Arc::new(
                Decimal256Array::from(vec![None, None, None, None])
                    .with_precision_and_scale(50, 0)
                    .unwrap(),
            ),
        ),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let rows = batch_to_rows(&batch).unwrap();
    assert_eq!(
        rows[0],
        [
            Value::Str("x".into()),
            Value::Bytes(b"v".to_vec()),
            dec(5, 18, 3),
            Value::Null
        ]
    );
    assert_eq!(rows[1], [Value::Null, Value::Null, Value::Null, Value::Null]);
    assert_eq!(rows[3][0], Value::Str("x".into()));

    let e = batch_to_rows(&RecordBatch::try_from_iter([("u", Arc::new(big.finish()) as ArrayRef)]).unwrap())
        .unwrap_err();
    assert!(
        e.contains("column u: value 18446744073709551615 beyond i64"),
        "{e}"
    );

    // A sliced list: its first offset is not 0.
    let lists = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
        Some(vec![Some(1), Some(2)]),
        None,
        Some(vec![Some(3)]),
        Some(vec![]),
        Some(vec![Some(4), None]),
    ]);
    let sliced: ArrayRef = Arc::new(lists.slice(2, 3));
    let batch = RecordBatch::try_from_iter([("l", sliced)]).unwrap();
    let got: Vec<Value> = batch_to_rows(&batch)
        .unwrap()
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect();
    assert_eq!(
        got,
        [
            Value::List(vec![Value::Int(3)]),
            Value::List(vec![]),
            Value::List(vec![Value::Int(4), Value::Null]),
        ]
    );
}
