//! The part files of a batch sink's output directory, visible only when the job succeeds.
//!
//! Subtask `i` writes `.part-0000i<suffix>.inprogress` (hidden: readers of the directory skip
//! it). When the job finished, [`PartFiles::commit`] renames every in-progress file to
//! `part-0000i<suffix>`; when it failed or was cancelled, it deletes them, so a failed job leaves
//! no partial visible output. Part files of an earlier run are removed when the job starts
//! (Flink's `OVERWRITE` mode). The text, CSV and Parquet sinks share this.

use super::fs_error;
use crate::text_sink::part_file_name;
use spate_fs::{FileSystem, FileWriter, FsUri};
use spate_runtime::{Error, Result};
use std::sync::Arc;

/// An output directory (`hdfs://...`, `file://...` or a path) of part files ending in a suffix.
#[derive(Clone, Debug)]
pub struct PartFiles {
    uri: String,
    suffix: String,
}

/// The hidden name subtask `i` writes to before the job succeeds (without a suffix).
pub fn in_progress_name(subtask: u32) -> String {
    in_progress_name_with(subtask, "")
}

fn in_progress_name_with(subtask: u32, suffix: &str) -> String {
    format!(".{}{suffix}.inprogress", part_file_name(subtask))
}

/// The visible name of an in-progress file's name, if it is one.
fn visible_name(name: &str) -> Option<&str> {
    name.strip_prefix('.')?
        .strip_suffix(".inprogress")
        .filter(|n| n.starts_with("part-"))
}

impl PartFiles {
    /// Part files named `part-0000i<suffix>` (e.g. `.csv`, or empty) in directory `uri`.
    pub fn new(uri: impl Into<String>, suffix: impl Into<String>) -> Self {
        PartFiles {
            uri: uri.into(),
            suffix: suffix.into(),
        }
    }

    /// The directory, as given.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    fn dir(&self) -> Result<(Arc<dyn FileSystem>, FsUri)> {
        spate_fs::resolve(&self.uri).map_err(fs_error)
    }

    /// Creates the directory if needed and removes part and in-progress files of earlier runs
    /// (once per job, before any writer).
    pub fn prepare(&self) -> Result<()> {
        let (fs, dir) = self.dir()?;
        match fs.status(&dir) {
            Ok(s) if !s.is_dir => {
                return Err(Error::Other(format!(
                    "output path {dir} exists and is not a directory"
                )))
            }
            Ok(_) => {}
            Err(e) if e.is_not_found() => fs.mkdirs(&dir).map_err(fs_error)?,
            Err(e) => return Err(fs_error(e)),
        }
        for entry in fs.list_dir(&dir).map_err(fs_error)? {
            let name = entry.uri.file_name();
            if !entry.is_dir && (name.starts_with("part-") || visible_name(name).is_some()) {
                fs.delete(&entry.uri, false).map_err(fs_error)?;
            }
        }
        Ok(())
    }

    /// Creates the in-progress file of `subtask`.
    pub fn create(&self, subtask: u32) -> Result<Box<dyn FileWriter>> {
        let (fs, dir) = self.dir()?;
        fs.create(&dir.join(&in_progress_name_with(subtask, &self.suffix)), true)
            .map_err(fs_error)
    }

    /// After every subtask ended: renames the in-progress files to part files when `success`,
    /// deletes them otherwise.
    pub fn commit(&self, success: bool) -> Result<()> {
        let (fs, dir) = self.dir()?;
        for entry in fs.list_dir(&dir).map_err(fs_error)? {
            let Some(visible) = visible_name(entry.uri.file_name()).map(str::to_string) else {
                continue;
            };
            if success {
                fs.rename(&entry.uri, &dir.join(&visible)).map_err(fs_error)?;
            } else {
                fs.delete(&entry.uri, false).map_err(fs_error)?;
            }
        }
        tracing::debug!(output = %dir, committed = success, "part files finalized");
        Ok(())
    }
}
