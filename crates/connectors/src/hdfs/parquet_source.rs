//! Rows of Parquet files on HDFS or locally (a file, a directory or a glob). A split is one row
//! group: its byte range (its column chunks) and the hosts of the HDFS block holding most of it.
//! A reader fetches the file's footer and then the row group's bytes through the file system, and
//! decodes them with the `parquet` crate into Arrow batches, emitted as [`Row`]s.
//!
//! Checkpoints: a reader's split in a checkpoint is its row group with the rows already emitted
//! counted in [`FsSplit::skip_rows`]; a restored reader skips them and goes on with the next row.

use super::fs_error;
use super::parquet_row::{batch_to_rows, Row};
use super::split::{hosts_of, FsSplit, LocalityEnumerator};
use super::text_source::HdfsTextSource;
use bytes::{Buf, Bytes};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader, RowGroupMetaData};
use parquet::file::reader::{ChunkReader, Length};
use spate_fs::{FileSystem, FsUri};
use spate_runtime::source::{Boundedness, ReadStatus, Source, SourceReader, SplitEnumerator};
use spate_runtime::{Collector, Error, Result, TaskContext};
use std::collections::VecDeque;
use std::io::Read;
use std::sync::Arc;

/// Rows per Arrow batch (and per `poll_next`).
const BATCH_ROWS: usize = 4096;

/// Reads the rows of the Parquet files a URI names (`hdfs://...`, `file://...` or a local path).
///
/// ```no_run
/// use spate_connectors::hdfs::ParquetSource;
/// let source = ParquetSource::new("hdfs:///warehouse/events/");
/// # let _ = source;
/// ```
pub struct ParquetSource {
    uri: String,
}

impl ParquetSource {
    /// Rows of `uri`: a file, a directory (its visible files, recursively) or a glob.
    pub fn new(uri: impl Into<String>) -> Self {
        ParquetSource { uri: uri.into() }
    }

    /// One split per non-empty row group of every file (footers are read here).
    pub fn splits(&self) -> Result<Vec<FsSplit>> {
        // The text source's listing, one whole-file split per non-empty file.
        let files = HdfsTextSource::new(self.uri.clone())
            .with_split_size(u64::MAX / 4)
            .splits(1)?;
        let mut splits = Vec::new();
        for file in files {
            let input = FsFile::open(&file.uri)?;
            let metadata = input.metadata()?;
            let blocks = input.fs.block_locations(&input.uri).map_err(fs_error)?;
            for rg in metadata.row_groups().iter().filter(|rg| rg.num_rows() > 0) {
                let (start, end) = input.range_of(rg)?;
                splits.push(FsSplit::new(
                    file.uri.clone(),
                    start,
                    end,
                    hosts_of(&blocks, start, end),
                ));
            }
        }
        Ok(splits)
    }
}

/// The error for a file that cannot be decoded.
fn corrupt(uri: &str, e: impl std::fmt::Display) -> Error {
    Error::Other(format!("{uri}: not a readable Parquet file: {e}"))
}

/// A Parquet file on a file system, read through `FileSystem::open` at offsets.
struct FsFile {
    fs: Arc<dyn FileSystem>,
    uri: FsUri,
    name: String,
    len: u64,
}

impl FsFile {
    fn open(uri: &str) -> Result<Self> {
        let (fs, uri) = spate_fs::resolve(uri).map_err(fs_error)?;
        let len = fs.status(&uri).map_err(fs_error)?.len;
        Ok(FsFile {
            fs,
            name: uri.to_string(),
            uri,
            len,
        })
    }

    /// The footer: schema and row groups.
    fn metadata(&self) -> Result<ParquetMetaData> {
        ParquetMetaDataReader::new()
            .with_prefetch_hint(Some(64 << 10))
            .parse_and_finish(self)
            .map_err(|e| corrupt(&self.name, e))
    }

    /// The bytes of a row group's column chunks, checked against the file.
    fn range_of(&self, rg: &RowGroupMetaData) -> Result<(u64, u64)> {
        let mut range: Option<(u64, u64)> = None;
        for c in rg.columns() {
            let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset());
            let chunk = u64::try_from(start)
                .ok()
                .zip(u64::try_from(c.compressed_size()).ok())
                .and_then(|(s, n)| Some((s, s.checked_add(n)?)))
                .filter(|&(_, end)| end <= self.len)
                .ok_or_else(|| corrupt(&self.name, "a column chunk lies outside the file"))?;
            range = Some(match range {
                Some((lo, hi)) => (lo.min(chunk.0), hi.max(chunk.1)),
                None => chunk,
            });
        }
        range.ok_or_else(|| corrupt(&self.name, "a row group without columns"))
    }
}

impl Length for FsFile {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for FsFile {
    type T = Box<dyn Read + Send>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        self.fs
            .open(&self.uri, start)
            .map_err(|e| ParquetError::External(Box::new(e)))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let mut buf = Vec::with_capacity(length.min(1 << 20));
        self.get_read(start)?.take(length as u64).read_to_end(&mut buf)?;
        if buf.len() != length {
            return Err(ParquetError::EOF(format!(
                "{length} bytes at offset {start} wanted, {} there",
                buf.len()
            )));
        }
        Ok(buf.into())
    }
}

/// One row group's bytes in memory, standing in for the whole file.
struct RowGroupBytes {
    start: u64,
    bytes: Bytes,
    file_len: u64,
}

impl Length for RowGroupBytes {
    fn len(&self) -> u64 {
        self.file_len
    }
}

impl ChunkReader for RowGroupBytes {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let len = self.bytes.len() as u64 - start.saturating_sub(self.start).min(self.bytes.len() as u64);
        Ok(self.get_bytes(start, len as usize)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let from = start
            .checked_sub(self.start)
            .and_then(|f| usize::try_from(f).ok());
        match from.and_then(|f| Some(f..f.checked_add(length)?)) {
            Some(r) if r.end <= self.bytes.len() => Ok(self.bytes.slice(r)),
            _ => Err(ParquetError::General(format!(
                "read of {length} bytes at offset {start} outside the row group"
            ))),
        }
    }
}

/// Opens the row group of `split` for reading, after its first `split.skip_rows` rows, in
/// batches of `batch_rows` rows.
fn open_row_group(split: &FsSplit, batch_rows: usize) -> Result<ParquetRecordBatchReader> {
    let file = FsFile::open(&split.uri)?;
    let metadata = file.metadata()?;
    let mut index = None;
    for (i, rg) in metadata.row_groups().iter().enumerate() {
        if file.range_of(rg)? == (split.start, split.end) {
            index = Some(i);
        }
    }
    let index = index.ok_or_else(|| {
        corrupt(
            &split.uri,
            format!("no row group at bytes {}..{}", split.start, split.end),
        )
    })?;
    let length = usize::try_from(split.end - split.start).map_err(|e| corrupt(&split.uri, e))?;
    let bytes = file
        .get_bytes(split.start, length)
        .map_err(|e| corrupt(&split.uri, e))?;
    let metadata = ArrowReaderMetadata::try_new(Arc::new(metadata), ArrowReaderOptions::new())
        .map_err(|e| corrupt(&split.uri, e))?;
    let input = RowGroupBytes {
        start: split.start,
        bytes,
        file_len: file.len,
    };
    let skip = usize::try_from(split.skip_rows).map_err(|e| corrupt(&split.uri, e))?;
    ParquetRecordBatchReaderBuilder::new_with_metadata(input, metadata)
        .with_row_groups(vec![index])
        .with_batch_size(batch_rows)
        .with_offset(skip)
        .build()
        .map_err(|e| corrupt(&split.uri, e))
}

impl Source<Row> for ParquetSource {
    type Split = FsSplit;

    fn name(&self) -> String {
        format!("Parquet({})", self.uri)
    }
    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }
    fn create_enumerator(&self, parallelism: u32) -> Result<Box<dyn SplitEnumerator<FsSplit>>> {
        let splits = self.splits()?;
        tracing::debug!(input = %self.uri, row_groups = splits.len(), "planned Parquet splits");
        Ok(Box::new(
            LocalityEnumerator::new(splits).with_readers(parallelism),
        ))
    }
    fn create_reader(&self, _ctx: &TaskContext) -> Result<Box<dyn SourceReader<Row, FsSplit>>> {
        Ok(Box::new(ParquetReader::new(BATCH_ROWS)))
    }
    fn restore_enumerator(
        &self,
        parallelism: u32,
        splits: Vec<FsSplit>,
    ) -> Result<Box<dyn SplitEnumerator<FsSplit>>> {
        Ok(Box::new(
            LocalityEnumerator::new(splits).with_readers(parallelism),
        ))
    }
}

struct ParquetReader {
    /// The row group being read (its split, with the rows emitted so far counted in
    /// `skip_rows`) and its batches.
    current: Option<(FsSplit, ParquetRecordBatchReader)>,
    /// Splits added and not yet opened.
    queued: VecDeque<FsSplit>,
    batch_rows: usize,
}

impl ParquetReader {
    fn new(batch_rows: usize) -> Self {
        ParquetReader {
            current: None,
            queued: VecDeque::new(),
            batch_rows,
        }
    }
}

impl SourceReader<Row, FsSplit> for ParquetReader {
    fn add_split(&mut self, split: FsSplit) -> Result<()> {
        self.queued.push_back(split);
        Ok(())
    }

    fn poll_next(&mut self, out: &mut dyn Collector<Row>) -> Result<ReadStatus> {
        if self.current.is_none() {
            let Some(split) = self.queued.pop_front() else {
                return Ok(ReadStatus::NeedSplit);
            };
            let batches = open_row_group(&split, self.batch_rows)?;
            self.current = Some((split, batches));
        }
        let Some((split, batches)) = self.current.as_mut() else {
            return Ok(ReadStatus::NeedSplit);
        };
        match batches.next() {
            Some(Ok(batch)) => {
                let rows = batch_to_rows(&batch).map_err(|e| Error::Other(format!("{}: {e}", split.uri)))?;
                split.skip_rows += rows.len() as u64;
                for row in rows {
                    out.collect(row);
                }
            }
            Some(Err(e)) => return Err(corrupt(&split.uri, e)),
            None => self.current = None,
        }
        Ok(ReadStatus::MoreAvailable)
    }

    fn snapshot_state(&mut self) -> Result<Vec<FsSplit>> {
        let current = self.current.as_ref().map(|(split, _)| split.clone());
        Ok(current.into_iter().chain(self.queued.iter().cloned()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdfs::{ParquetSink, Value};
    use arrow_schema::{DataType, Field, Schema};
    use spate_graph::ExecutionMode;
    use spate_runtime::sink::Sink;

    #[test]
    fn a_restored_reader_goes_on_with_the_next_row_of_its_row_group() {
        let dir = tempfile::tempdir().unwrap();
        let out = format!("file://{}/pq", dir.path().display());
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let sink = ParquetSink::new(&out, schema).with_row_group_rows(7);
        sink.initialize(1).unwrap();
        let row = |i: i64| vec![Value::Int(i), Value::Str(format!("n{i}"))];
        let mut w = sink
            .create_writer(&TaskContext::standalone(ExecutionMode::Batch))
            .unwrap();
        for i in 0..30 {
            w.write(row(i)).unwrap();
        }
        w.finish().unwrap();
        sink.finalize(true).unwrap();
        let source = ParquetSource::new(&out);
        assert_eq!(source.splits().unwrap().len(), 5, "row groups of 7 rows");
        for batch_rows in [1, 3] {
            let reader =
                || -> Box<dyn SourceReader<Row, FsSplit>> { Box::new(ParquetReader::new(batch_rows)) };
            let expected = crate::resume_tests::read_uninterrupted(&source, 2, &reader);
            assert_eq!(expected, (0..30).map(row).collect::<Vec<_>>());
            crate::resume_tests::check_resume(&source, 2, &reader, &expected);
        }
    }
}
