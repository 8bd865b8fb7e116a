//! The local file system (`file://` URIs and bare paths).

use crate::error::{Error, Result};
use crate::file_system::{BlockLocation, FileStatus, FileSystem, FileWriter};
use crate::uri::FsUri;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

/// Buffer of local writers.
const WRITE_BUFFER: usize = 256 << 10;

/// The local file system.
#[derive(Debug, Default)]
pub struct LocalFileSystem;

fn status_of(uri: &FsUri, meta: &std::fs::Metadata) -> FileStatus {
    FileStatus {
        uri: uri.clone(),
        len: if meta.is_dir() { 0 } else { meta.len() },
        is_dir: meta.is_dir(),
        block_size: None,
    }
}

impl FileSystem for LocalFileSystem {
    fn status(&self, uri: &FsUri) -> Result<FileStatus> {
        let meta = std::fs::metadata(&uri.path).map_err(|e| Error::local("stat", &uri.to_string(), e))?;
        Ok(status_of(uri, &meta))
    }

    fn list_dir(&self, uri: &FsUri) -> Result<Vec<FileStatus>> {
        let name = uri.to_string();
        let entries = std::fs::read_dir(&uri.path).map_err(|e| Error::local("list", &name, e))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::local("list", &name, e))?;
            let child = uri.join(&entry.file_name().to_string_lossy());
            // Follows symbolic links, like reading the file would.
            match std::fs::metadata(entry.path()) {
                Ok(meta) => out.push(status_of(&child, &meta)),
                // A dangling link or a file removed while listing: not an input.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::local("stat", &child.to_string(), e)),
            }
        }
        Ok(out)
    }

    fn open(&self, uri: &FsUri, offset: u64) -> Result<Box<dyn Read + Send>> {
        let name = uri.to_string();
        let mut file = File::open(&uri.path).map_err(|e| Error::local("open", &name, e))?;
        if offset > 0 {
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| Error::local("seek in", &name, e))?;
        }
        Ok(Box::new(file))
    }

    fn create(&self, uri: &FsUri, overwrite: bool) -> Result<Box<dyn FileWriter>> {
        let name = uri.to_string();
        let mut options = OpenOptions::new();
        options.write(true);
        if overwrite {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        let file = options
            .open(&uri.path)
            .map_err(|e| Error::local("create", &name, e))?;
        Ok(Box::new(LocalWriter {
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            name,
        }))
    }

    fn rename(&self, from: &FsUri, to: &FsUri) -> Result<()> {
        std::fs::rename(&from.path, &to.path).map_err(|e| Error::local("rename", &from.to_string(), e))
    }

    fn delete(&self, uri: &FsUri, recursive: bool) -> Result<bool> {
        let name = uri.to_string();
        let meta = match std::fs::symlink_metadata(&uri.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::local("delete", &name, e)),
        };
        let result = if !meta.is_dir() {
            std::fs::remove_file(&uri.path)
        } else if recursive {
            std::fs::remove_dir_all(&uri.path)
        } else {
            std::fs::remove_dir(&uri.path)
        };
        result.map_err(|e| Error::local("delete", &name, e))?;
        Ok(true)
    }

    fn mkdirs(&self, uri: &FsUri) -> Result<()> {
        std::fs::create_dir_all(&uri.path).map_err(|e| Error::local("create directory", &uri.to_string(), e))
    }

    fn block_locations(&self, _uri: &FsUri) -> Result<Vec<BlockLocation>> {
        Ok(Vec::new())
    }
}

struct LocalWriter {
    out: BufWriter<File>,
    name: String,
}

impl Write for LocalWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl FileWriter for LocalWriter {
    fn close(mut self: Box<Self>) -> Result<()> {
        self.out.flush().map_err(|e| Error::local("write", &self.name, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_rename_delete_and_classified_errors() {
        let dir = tempfile::tempdir().unwrap();
        let fs = LocalFileSystem;
        let base = FsUri::parse(&format!("file://{}", dir.path().display())).unwrap();
        fs.mkdirs(&base.join("a/b")).unwrap();
        let f = base.join("a/b/f.txt");
        let mut w = fs.create(&f, false).unwrap();
        w.write_all(b"hello world").unwrap();
        w.close().unwrap();
        assert!(matches!(
            fs.create(&f, false).err(),
            Some(Error::AlreadyExists { .. })
        ));
        let mut s = String::new();
        fs.open(&f, 6).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "world");
        let st = fs.status(&f).unwrap();
        assert_eq!((st.len, st.is_dir, st.block_size), (11, false, None));
        let g = base.join("a/g.txt");
        fs.rename(&f, &g).unwrap();
        assert!(fs.status(&f).unwrap_err().is_not_found());
        let e = fs.open(&base.join("nope"), 0).err().unwrap();
        assert!(e.is_not_found() && e.to_string().contains("nope"), "{e}");
        assert!(fs.delete(&base.join("a"), true).unwrap());
        assert!(!fs.delete(&base.join("a"), true).unwrap());
    }
}
