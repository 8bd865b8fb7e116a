//! The crate's error type: every variant names the path or URI it is about.

use std::time::Duration;

/// Errors of file-system operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The path (or every match of a glob) does not exist.
    #[error("path {path} does not exist")]
    NotFound { path: String },
    /// The user may not do this on the path.
    #[error("permission denied on {path}: {message}")]
    PermissionDenied { path: String, message: String },
    /// Creating or renaming onto a path that exists.
    #[error("path {path} already exists")]
    AlreadyExists { path: String },
    /// The NameNode did not answer within the bounded retry.
    #[error("cannot reach the NameNode of {uri} ({attempts} attempts in {:.1}s): {message}", elapsed.as_secs_f64())]
    Unreachable {
        uri: String,
        attempts: u32,
        elapsed: Duration,
        message: String,
    },
    /// The URI cannot be parsed or names no supported file system.
    #[error("invalid URI {uri}: {reason}")]
    InvalidUri { uri: String, reason: String },
    /// A local I/O error.
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        source: std::io::Error,
    },
    /// Any other HDFS failure; `class` is the Java exception class when the NameNode sent one.
    #[error("cannot {op} {path}: {message}")]
    Hdfs {
        op: &'static str,
        path: String,
        class: Option<String>,
        message: String,
    },
}

impl Error {
    /// Whether the error says that the path does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }
    /// Whether the error says that permission was denied.
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, Error::PermissionDenied { .. })
    }

    /// A local I/O error, classified by its kind.
    pub(crate) fn local(op: &'static str, path: &str, source: std::io::Error) -> Self {
        match source.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                path: path.to_string(),
            },
            std::io::ErrorKind::PermissionDenied => Error::PermissionDenied {
                path: path.to_string(),
                message: source.to_string(),
            },
            std::io::ErrorKind::AlreadyExists => Error::AlreadyExists {
                path: path.to_string(),
            },
            _ => Error::Io {
                op,
                path: path.to_string(),
                source,
            },
        }
    }
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
