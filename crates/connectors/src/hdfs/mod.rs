//! Text files on any file system `spate-fs` serves (`hdfs://`, `file://`, bare paths): a source
//! whose splits follow HDFS blocks and carry the hosts that store them, and a sink that makes its
//! part files visible only when the job succeeds.
//!
//! (`mod.rs` rather than `hdfs.rs` next to the folder: this module is kept to its own folder.)

/// Reading the lines of one split, each line exactly once across splits.
pub mod line_reader;
/// Split planning (block-aligned on HDFS) and a locality-preferring enumerator.
pub mod split;
/// The text sink with in-progress files.
pub mod text_sink;
/// The text-line source.
pub mod text_source;

pub use split::FsSplit;
pub use text_sink::FsTextSink;
pub use text_source::HdfsTextSource;

/// A file-system error as a runtime error (the message names the path).
pub(crate) fn fs_error(e: spate_fs::Error) -> spate_runtime::Error {
    spate_runtime::Error::Other(e.to_string())
}
