//! Parquet part files (`part-0000i.parquet`, Snappy-compressed) on any file system, visible only
//! when committed (see [`super::part_files`]): when a batch job succeeds, or exactly-once at
//! checkpoints in a streaming job with checkpoints (a part file, with its footer, per checkpoint
//! interval). Rows are gathered into Arrow batches and written in row groups of a set number of
//! rows.

use super::parquet_row::{is_writable, rows_to_batch, Row};
use super::part_files::{PartFiles, PartFormat, PartWriter, StagedPart};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use spate_fs::FileWriter;
use spate_runtime::sink::{Sink, SinkWriter};
use spate_runtime::{Error, Result, TaskContext};
use std::sync::Arc;

/// Rows per row group unless set.
const ROW_GROUP_ROWS: usize = 1 << 20;
/// Rows per Arrow batch handed to the Parquet writer.
const BATCH_ROWS: usize = 8192;

/// Writes [`Row`]s of a schema into Parquet part files in a directory.
///
/// ```no_run
/// use arrow_schema::{DataType, Field, Schema};
/// use spate_connectors::hdfs::ParquetSink;
/// use std::sync::Arc;
/// let schema = Arc::new(Schema::new(vec![
///     Field::new("word", DataType::Utf8, false),
///     Field::new("count", DataType::Int64, false),
/// ]));
/// let sink = ParquetSink::new("hdfs:///out", schema).with_row_group_rows(100_000);
/// # let _ = sink;
/// ```
pub struct ParquetSink {
    parts: PartFiles,
    schema: SchemaRef,
    row_group_rows: usize,
}

impl ParquetSink {
    /// A sink writing rows of `schema` into directory `uri`; the column types it can write, and
    /// how values are converted to them, are in [`super::parquet_row`].
    pub fn new(uri: impl Into<String>, schema: SchemaRef) -> Self {
        ParquetSink {
            parts: PartFiles::new(uri, ".parquet"),
            schema,
            row_group_rows: ROW_GROUP_ROWS,
        }
    }

    /// Ends a row group every `rows` rows (at least 1).
    pub fn with_row_group_rows(mut self, rows: usize) -> Self {
        self.row_group_rows = rows.max(1);
        self
    }
}

impl ParquetSink {
    fn check_schema(&self) -> Result<()> {
        match self.schema.fields().iter().find(|f| !is_writable(f.data_type())) {
            Some(f) => Err(Error::Other(format!(
                "Parquet sink {}: column {} has unsupported type {}",
                self.parts.uri(),
                f.name(),
                f.data_type()
            ))),
            None => Ok(()),
        }
    }
}

fn parquet_error(e: parquet::errors::ParquetError) -> Error {
    Error::Other(format!("cannot write a Parquet part file: {e}"))
}

impl Sink<Row> for ParquetSink {
    fn name(&self) -> String {
        format!("Parquet({})", self.parts.uri())
    }

    fn initialize(&self, _parallelism: u32) -> Result<()> {
        self.check_schema()?;
        self.parts.prepare()
    }

    fn create_writer(&self, ctx: &TaskContext) -> Result<Box<dyn SinkWriter<Row>>> {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(self.row_group_rows))
            .build();
        let parts = ParquetParts {
            schema: self.schema.clone(),
            props,
            batch_rows: BATCH_ROWS.min(self.row_group_rows),
        };
        Ok(Box::new(PartWriter::new(
            self.parts.clone(),
            Arc::new(parts),
            ctx,
        )?))
    }

    fn finalize(&self, success: bool) -> Result<()> {
        self.parts.commit(success)
    }

    fn commit(&self, committables: Vec<Vec<u8>>) -> Result<()> {
        self.parts
            .commit_staged(&StagedPart::decode_all(self.parts.uri(), &committables)?)
    }

    fn recover(&self, _parallelism: u32, committables: Vec<Vec<u8>>) -> Result<()> {
        self.check_schema()?;
        self.parts
            .recover(&StagedPart::decode_all(self.parts.uri(), &committables)?)
    }
}

/// How rows become Parquet part files.
struct ParquetParts {
    schema: SchemaRef,
    props: WriterProperties,
    batch_rows: usize,
}

/// An open Parquet part file.
struct ParquetPart {
    out: ArrowWriter<Box<dyn FileWriter>>,
    rows: Vec<Row>,
    /// Rows handed to the Parquet writer so far (for error messages).
    written: u64,
}

impl ParquetParts {
    fn write_batch(&self, part: &mut ParquetPart) -> Result<()> {
        if part.rows.is_empty() {
            return Ok(());
        }
        let batch = rows_to_batch(&part.rows, &self.schema).map_err(|e| {
            let (from, to) = (part.written, part.written + part.rows.len() as u64);
            Error::Other(format!(
                "Parquet sink: a row among rows {from}..{to} of this file: {e}"
            ))
        })?;
        part.out.write(&batch).map_err(parquet_error)?;
        part.written += part.rows.len() as u64;
        part.rows.clear();
        Ok(())
    }
}

impl PartFormat<Row> for ParquetParts {
    type Part = ParquetPart;

    fn open(&self, file: Box<dyn FileWriter>) -> Result<ParquetPart> {
        let out = ArrowWriter::try_new(file, self.schema.clone(), Some(self.props.clone()))
            .map_err(parquet_error)?;
        Ok(ParquetPart {
            out,
            rows: Vec::new(),
            written: 0,
        })
    }

    fn write(&self, part: &mut ParquetPart, row: Row) -> Result<()> {
        if row.len() != self.schema.fields().len() {
            return Err(Error::Other(format!(
                "Parquet sink: a row of {} values for a schema of {} columns: {row:?}",
                row.len(),
                self.schema.fields().len()
            )));
        }
        part.rows.push(row);
        if part.rows.len() >= self.batch_rows {
            self.write_batch(part)?;
        }
        Ok(())
    }

    fn close(&self, mut part: ParquetPart) -> Result<()> {
        self.write_batch(&mut part)?;
        part.out
            .into_inner()
            .map_err(parquet_error)?
            .close()
            .map_err(super::fs_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdfs::parquet_row::Value;
    use crate::hdfs::ParquetSource;
    use arrow_schema::{DataType, Field, Schema};
    use spate_graph::ExecutionMode;
    use spate_runtime::source::{ReadStatus, Source};
    use std::sync::Arc;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("score", DataType::Float64, true),
            Field::new("ok", DataType::Boolean, true),
        ]))
    }

    fn row(i: i64) -> Row {
        vec![
            Value::Int(i),
            if i % 7 == 0 {
                Value::Null
            } else {
                Value::Str(format!("n{i}"))
            },
            Value::Float(i as f64 / 4.0),
            Value::Bool(i % 2 == 0),
        ]
    }

    fn write(sink: &ParquetSink, subtask: u32, rows: impl Iterator<Item = Row>) {
        let mut ctx = TaskContext::standalone(ExecutionMode::Batch);
        ctx.subtask = subtask;
        let mut w = sink.create_writer(&ctx).unwrap();
        for r in rows {
            w.write(r).unwrap();
        }
        w.finish().unwrap();
    }

    fn read_all(source: &ParquetSource) -> Result<Vec<Row>> {
        let mut e = source.create_enumerator(2)?;
        let ctx = TaskContext::standalone(ExecutionMode::Batch);
        let mut rows = Vec::new();
        while let Some(split) = e.next_split(0, None) {
            let mut r = source.create_reader(&ctx)?;
            r.add_split(split)?;
            while r.poll_next(&mut rows)? != ReadStatus::NeedSplit {}
        }
        Ok(rows)
    }

    #[test]
    fn rows_round_trip_through_row_groups_of_two_part_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = format!("file://{}/out", dir.path().display());
        let sink = ParquetSink::new(&out, schema()).with_row_group_rows(1000);
        sink.initialize(2).unwrap();
        write(&sink, 0, (0..2500).map(row));
        write(&sink, 1, (2500..3000).map(row));
        assert!(
            read_all(&ParquetSource::new(&out)).unwrap().is_empty(),
            "hidden until committed"
        );
        sink.finalize(true).unwrap();
        let source = ParquetSource::new(&out);
        let splits = source.splits().unwrap();
        assert_eq!(splits.len(), 4, "{splits:?}");
        assert!(splits[0].uri.ends_with("/part-00000.parquet"), "{splits:?}");
        let got = read_all(&source).unwrap();
        assert_eq!(got, (0..3000).map(row).collect::<Vec<_>>());

        let mut bad = vec![row(1)];
        bad[0][0] = Value::Str("x".into());
        let mut ctx = TaskContext::standalone(ExecutionMode::Batch);
        ctx.subtask = 2;
        let mut w = sink.create_writer(&ctx).unwrap();
        w.write(bad.remove(0)).unwrap();
        let e = w.finish().unwrap_err().to_string();
        assert!(
            e.contains("column id of type Int64 cannot hold Str(\"x\")"),
            "{e}"
        );
        sink.finalize(false).unwrap();
    }

    #[test]
    fn dates_decimals_lists_and_structs_go_through_the_sink_and_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let out = format!("file://{}/typed", dir.path().display());
        let item = Arc::new(Field::new("item", DataType::Int64, true));
        let schema = Arc::new(Schema::new(vec![
            Field::new("day", DataType::Date32, true),
            Field::new(
                "at",
                DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, Some("UTC".into())),
                true,
            ),
            Field::new("price", DataType::Decimal128(9, 2), true),
            Field::new("ids", DataType::List(item), true),
            Field::new(
                "who",
                DataType::Struct(vec![Field::new("name", DataType::Utf8, true)].into()),
                true,
            ),
        ]));
        let typed = |i: i64| -> Row {
            vec![
                Value::Date(i as i32 - 10),
                Value::Timestamp {
                    value: i * 1000,
                    unit: crate::hdfs::TimeUnit::Millisecond,
                    utc: true,
                },
                Value::Decimal {
                    value: i128::from(i) * 101,
                    precision: 9,
                    scale: 2,
                },
                Value::List((0..i % 3).map(Value::Int).collect()),
                Value::Struct(vec![("name".into(), Value::Str(format!("n{i}")))]),
            ]
        };
        let sink = ParquetSink::new(&out, schema).with_row_group_rows(40);
        sink.initialize(1).unwrap();
        write(&sink, 0, (0..100).map(typed));
        sink.finalize(true).unwrap();
        let got = read_all(&ParquetSource::new(&out)).unwrap();
        assert_eq!(got, (0..100).map(typed).collect::<Vec<_>>());

        let map = Arc::new(Schema::new(vec![Field::new(
            "t",
            DataType::Time32(arrow_schema::TimeUnit::Second),
            true,
        )]));
        let e = ParquetSink::new(&out, map).initialize(1).unwrap_err().to_string();
        assert!(e.contains("column t has unsupported type"), "{e}");
    }

    #[test]
    fn with_checkpoints_only_committed_rows_are_visible_each_file_complete() {
        use crate::hdfs::part_files::tests::check_exactly_once;
        use spate_runtime::sink::SinkWriter;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("pq");
        let uri = format!("file://{}", out.display());
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        /// The Parquet sink taking numbers.
        struct Numbers(ParquetSink);
        struct NumberWriter(Box<dyn SinkWriter<Row>>);
        impl SinkWriter<u32> for NumberWriter {
            fn write(&mut self, n: u32) -> Result<()> {
                self.0.write(vec![Value::Int(i64::from(n))])
            }
            fn finish(&mut self) -> Result<()> {
                self.0.finish()
            }
            fn prepare_commit(&mut self, c: u64) -> Result<Vec<Vec<u8>>> {
                self.0.prepare_commit(c)
            }
            fn snapshot_state(&mut self) -> Result<Vec<Vec<u8>>> {
                self.0.snapshot_state()
            }
            fn restore_state(&mut self, s: Vec<Vec<u8>>) -> Result<()> {
                self.0.restore_state(s)
            }
        }
        impl Sink<u32> for Numbers {
            fn name(&self) -> String {
                self.0.name()
            }
            fn initialize(&self, p: u32) -> Result<()> {
                self.0.initialize(p)
            }
            fn create_writer(&self, ctx: &TaskContext) -> Result<Box<dyn SinkWriter<u32>>> {
                Ok(Box::new(NumberWriter(self.0.create_writer(ctx)?)))
            }
            fn finalize(&self, s: bool) -> Result<()> {
                self.0.finalize(s)
            }
            fn commit(&self, c: Vec<Vec<u8>>) -> Result<()> {
                self.0.commit(c)
            }
            fn recover(&self, p: u32, c: Vec<Vec<u8>>) -> Result<()> {
                self.0.recover(p, c)
            }
        }
        let read = |_: &std::path::Path| -> Vec<String> {
            let mut got: Vec<String> = read_all(&ParquetSource::new(&uri))
                .unwrap()
                .iter()
                .map(|r| match r[0] {
                    Value::Int(n) => n.to_string(),
                    _ => panic!("{r:?}"),
                })
                .collect();
            got.sort();
            got
        };
        check_exactly_once(&Numbers(ParquetSink::new(&uri, schema)), &out, &read);
    }

    #[test]
    fn truncated_or_garbage_files_fail_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = format!("file://{}", dir.path().display());
        let sink = ParquetSink::new(&out, schema());
        sink.initialize(1).unwrap();
        write(&sink, 0, (0..100).map(row));
        sink.finalize(true).unwrap();
        let good = std::fs::read(dir.path().join("part-00000.parquet")).unwrap();
        let cases: [(&str, Vec<u8>); 4] = [
            ("truncated.parquet", good[..good.len() - 10].to_vec()),
            ("headless.parquet", good[good.len() / 2..].to_vec()),
            (
                "garbage.parquet",
                b"PAR1 this is not parquet at all PAR1".to_vec(),
            ),
            ("tiny.parquet", b"PAR".to_vec()),
        ];
        for (name, bytes) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let uri = format!("file://{}", path.display());
            let e = read_all(&ParquetSource::new(&uri)).unwrap_err().to_string();
            assert!(
                e.contains(&uri) && e.contains("not a readable Parquet file"),
                "{e}"
            );
        }
        // Footer intact, data pages damaged: the reader fails naming the file.
        let mut damaged = good.clone();
        for b in &mut damaged[4..good.len() / 2] {
            *b = 0xA5;
        }
        let path = dir.path().join("damaged.parquet");
        std::fs::write(&path, damaged).unwrap();
        let uri = format!("file://{}", path.display());
        let e = read_all(&ParquetSource::new(&uri)).unwrap_err().to_string();
        assert!(e.contains(&uri), "{e}");
    }
}
