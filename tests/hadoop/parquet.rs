//! Parquet on HDFS, checked against an independent implementation (pyarrow): Spate's output read
//! by pyarrow after `hdfs dfs -get`, and a file written by pyarrow and put into HDFS read by Spate.

use crate::fixture::{hadoop, unique};
use arrow_schema::{DataType, Field, Schema};
use spate::StreamEnv;
use spate_connectors::hdfs::{ParquetSink, ParquetSource, Row, Value};
use std::process::Command;
use std::sync::Arc;

/// Whether `python3` can import pyarrow; without it a test skips, or fails when Hadoop is required.
pub(crate) fn pyarrow(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import pyarrow.parquet"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("SPATE_REQUIRE_HADOOP").as_deref() != Ok("1"),
            "{test}: pyarrow cannot be imported by python3 (install it: python3 -m pip install pyarrow)"
        );
        eprintln!("skipping {test}: pyarrow cannot be imported by python3");
    }
    ok
}

/// Runs a Python script; its stdout, or a panic with its stderr.
pub(crate) fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Row `i` of the test data (the Python scripts below compute the same).
fn row(i: i64) -> Row {
    vec![
        Value::Int(i),
        if i % 11 == 0 {
            Value::Null
        } else {
            Value::Str(format!("name-{i}-{}", "x".repeat((i % 23) as usize)))
        },
        Value::Float(i as f64 * 0.5),
        if i % 13 == 0 {
            Value::Null
        } else {
            Value::Bool(i % 3 == 0)
        },
        Value::Int(i % 1000),
    ]
}

/// Rows as pyarrow prints them (`repr` of each value, tab-separated).
fn python_repr(r: &Row) -> String {
    let v = |v: &Value| match v {
        Value::Null => "None".to_string(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.fract() == 0.0 => format!("{f:.1}"),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => format!("'{s}'"),
        other => panic!("no such value in this data: {other:?}"),
    };
    r.iter().map(v).collect::<Vec<_>>().join("\t")
}

const PRINT_ROWS: &str = r#"
import sys, glob, pyarrow.parquet as pq
for path in sorted(glob.glob(sys.argv[1] + "/part-*")):
    f = pq.ParquetFile(path)
    print("file", path.rsplit("/", 1)[-1], f.metadata.num_row_groups, f.metadata.num_rows, sep="\t")
    for row in f.read().to_pylist():
        print("\t".join(repr(v) for v in row.values()))
"#;

#[test]
fn parquet_written_by_spate_to_hdfs_is_read_by_pyarrow() {
    let Some(h) = hadoop("parquet_write") else { return };
    if !pyarrow("parquet_write") {
        return;
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("score", DataType::Float64, false),
        Field::new("ok", DataType::Boolean, true),
        Field::new("small", DataType::Int32, false),
    ]));
    let rows: Vec<Row> = (0..10_000).map(row).collect();
    let out = unique("parquet-out");
    let env = StreamEnv::local();
    env.set_parallelism(2);
    env.from_collection(rows.clone())
        .sink_to(ParquetSink::new(h.uri(&out), schema).with_row_group_rows(2_000));
    env.execute("write parquet to hdfs").unwrap();

    let local = tempfile::tempdir().unwrap();
    let local_out = local.path().join("out");
    h.cli(&["fs", "-get", &out, local_out.to_str().unwrap()]);
    let printed = python(PRINT_ROWS, &[local_out.to_str().unwrap()]);
    let (files, mut got): (Vec<&str>, Vec<&str>) = printed.lines().partition(|l| l.starts_with("file\t"));
    assert_eq!(files.len(), 2, "{files:?}");
    let mut total = 0;
    for f in &files {
        let cols: Vec<&str> = f.split('\t').collect();
        let (groups, n): (usize, usize) = (cols[2].parse().unwrap(), cols[3].parse().unwrap());
        assert!(
            cols[1].starts_with("part-0000") && cols[1].ends_with(".parquet"),
            "{f}"
        );
        assert_eq!(groups, n.div_ceil(2_000), "{f}");
        total += n;
    }
    assert_eq!(total, rows.len());
    got.sort();
    let mut expected: Vec<String> = rows.iter().map(python_repr).collect();
    expected.sort();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "pyarrow read other values");
}

const WRITE_ROWS: &str = r#"
import sys, pyarrow as pa, pyarrow.parquet as pq
n = int(sys.argv[2])
ids = list(range(n))
table = pa.table({
    "id": pa.array(ids, pa.int64()),
    "name": pa.array([None if i % 11 == 0 else "name-%d-%s" % (i, "x" * (i % 23)) for i in ids], pa.string()),
    "score": pa.array([i * 0.5 for i in ids], pa.float64()),
    "ok": pa.array([None if i % 13 == 0 else i % 3 == 0 for i in ids], pa.bool_()),
    "small": pa.array([i % 1000 for i in ids], pa.int32()),
})
pq.write_table(table, sys.argv[1], row_group_size=10000, compression="none")
print(pq.ParquetFile(sys.argv[1]).metadata.num_row_groups)
"#;

#[test]
fn parquet_written_by_pyarrow_and_put_into_hdfs_is_read_by_spate() {
    let Some(h) = hadoop("parquet_read") else { return };
    if !pyarrow("parquet_read") {
        return;
    }
    let n = 60_000;
    let local = tempfile::tempdir().unwrap();
    let file = local.path().join("py.parquet");
    let groups: usize = python(WRITE_ROWS, &[file.to_str().unwrap(), &n.to_string()])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(groups, 6);
    let dir = unique("parquet-in");
    h.cli(&["fs", "-mkdir", "-p", &dir]);
    h.cli(&[
        "fs",
        "-D",
        "dfs.blocksize=1048576",
        "-put",
        file.to_str().unwrap(),
        &format!("{dir}/py.parquet"),
    ]);
    assert!(
        std::fs::metadata(&file).unwrap().len() > 2 << 20,
        "spans several blocks"
    );

    let source = ParquetSource::new(h.uri(&dir));
    let splits = source.splits().unwrap();
    assert_eq!(splits.len(), groups, "a split per row group: {splits:?}");
    assert!(splits.iter().all(|s| !s.hosts.is_empty()), "{splits:?}");
    let mut expected: Vec<String> = (0..n).map(|i| python_repr(&row(i))).collect();
    expected.sort();
    for p in [1, 3] {
        let env = StreamEnv::local();
        env.set_parallelism(p);
        let rows = env.from_source(ParquetSource::new(h.uri(&dir))).collect();
        env.execute("read parquet from hdfs").unwrap();
        let mut got: Vec<String> = rows.take().iter().map(python_repr).collect();
        got.sort();
        assert_eq!(got.len(), expected.len(), "row count at parallelism {p}");
        assert!(got == expected, "rows differ at parallelism {p}");
    }
}

#[test]
fn a_corrupt_parquet_file_on_hdfs_fails_the_job_naming_it() {
    let Some(h) = hadoop("parquet_corrupt") else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let file = local.path().join("junk.parquet");
    std::fs::write(&file, b"PAR1 not really parquet PAR1").unwrap();
    let path = format!("{}-junk.parquet", unique("parquet"));
    h.cli(&["fs", "-put", file.to_str().unwrap(), &path]);
    let env = StreamEnv::local();
    let _ = env.from_source(ParquetSource::new(h.uri(&path))).collect();
    let e = env.execute("corrupt parquet").unwrap_err().to_string();
    assert!(
        e.contains(&path) && e.contains("not a readable Parquet file"),
        "{e}"
    );
}
