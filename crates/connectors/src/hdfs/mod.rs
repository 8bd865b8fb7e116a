//! Text files on any file system `spate-fs` serves (`hdfs://`, `file://`, bare paths): a source
//! whose splits follow HDFS blocks and carry the hosts that store them, and a sink that makes its
//! part files visible only when the job succeeds.
//!
//! (`mod.rs` rather than `hdfs.rs` next to the folder: this module is kept to its own folder.)

/// Parsing one CSV record strictly.
pub mod csv_parse;
/// The records of one CSV split: lines, or records spanning lines in whole-file splits.
pub mod csv_records;
/// The CSV part-file sink.
pub mod csv_sink;
/// The CSV record source.
pub mod csv_source;
/// Reading the lines of one split, each line exactly once across splits.
pub mod line_reader;
/// Values and rows of Parquet files, to and from Arrow batches.
pub mod parquet_row;
/// The Parquet part-file sink.
pub mod parquet_sink;
/// The Parquet row source (a split per row group).
pub mod parquet_source;
/// Hidden in-progress part files committed by rename (shared by the file sinks).
pub mod part_files;
/// Split planning (block-aligned on HDFS).
pub mod split;
/// Handing out splits local-first, with delay scheduling (the locality enumerator).
pub mod split_assigner;
/// The text sink with in-progress files.
pub mod text_sink;
/// The text-line source.
pub mod text_source;

pub use csv_parse::CsvFormat;
pub use csv_sink::CsvSink;
pub use csv_source::CsvSource;
pub use parquet_row::{Row, TimeUnit, Value};
pub use parquet_sink::ParquetSink;
pub use parquet_source::ParquetSource;
pub use split::FsSplit;
pub use text_sink::FsTextSink;
pub use text_source::HdfsTextSource;

/// A file-system error as a runtime error (the message names the path).
pub(crate) fn fs_error(e: spate_fs::Error) -> spate_runtime::Error {
    spate_runtime::Error::Other(e.to_string())
}
