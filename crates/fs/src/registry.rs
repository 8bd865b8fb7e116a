//! Which [`FileSystem`] serves a URI: one shared instance per scheme and authority.

use crate::error::Result;
use crate::file_system::FileSystem;
use crate::hdfs::HdfsFileSystem;
use crate::local::LocalFileSystem;
use crate::uri::{FsUri, Scheme};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

static CACHE: OnceLock<Mutex<HashMap<Scheme, Arc<dyn FileSystem>>>> = OnceLock::new();

/// The file system of `uri` (created on first use, then shared by the whole process).
pub fn for_uri(uri: &FsUri) -> Result<Arc<dyn FileSystem>> {
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(fs) = cache.get(&uri.scheme) {
        return Ok(fs.clone());
    }
    let fs: Arc<dyn FileSystem> = match &uri.scheme {
        Scheme::Local => Arc::new(LocalFileSystem),
        Scheme::Hdfs { authority } => Arc::new(HdfsFileSystem::connect(authority)?),
    };
    cache.insert(uri.scheme.clone(), fs.clone());
    Ok(fs)
}

/// Parses `uri` and returns its file system with it.
pub fn resolve(uri: &str) -> Result<(Arc<dyn FileSystem>, FsUri)> {
    let uri = FsUri::parse(uri)?;
    Ok((for_uri(&uri)?, uri))
}
