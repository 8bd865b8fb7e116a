//! File-system URIs: `hdfs://authority/path`, `hdfs:///path` (the default file system of the
//! Hadoop configuration), `file:///path` and bare local paths.

use crate::error::{Error, Result};
use std::fmt;

/// Which file system a URI names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// The local file system (`file://` or a bare path).
    Local,
    /// HDFS; the authority is a NameNode `host:port`, a nameservice, or empty for `fs.defaultFS`.
    Hdfs { authority: String },
}

/// A parsed URI: which file system, and a path inside it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FsUri {
    /// The file system.
    pub scheme: Scheme,
    /// What comes before the path when printed: `hdfs://nn:8020`, `file://` or empty.
    prefix: String,
    /// The path: absolute for HDFS (`/` at least), as given for bare local paths.
    pub path: String,
}

impl FsUri {
    /// Parses `uri`.
    pub fn parse(uri: &str) -> Result<FsUri> {
        let invalid = |reason: &str| Error::InvalidUri {
            uri: uri.to_string(),
            reason: reason.to_string(),
        };
        if uri.is_empty() {
            return Err(invalid("empty path"));
        }
        if let Some(rest) = uri.strip_prefix("hdfs://") {
            let (authority, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            return Ok(FsUri {
                scheme: Scheme::Hdfs {
                    authority: authority.to_string(),
                },
                prefix: format!("hdfs://{authority}"),
                path: normalize(path),
            });
        }
        if let Some(rest) = uri.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err(invalid("a file URI needs an absolute path (file:///...)"));
            }
            return Ok(FsUri {
                scheme: Scheme::Local,
                prefix: "file://".into(),
                path: normalize(rest),
            });
        }
        if let Some(rest) = uri.strip_prefix("file:") {
            return Ok(FsUri {
                scheme: Scheme::Local,
                prefix: "file://".into(),
                path: normalize(rest),
            });
        }
        if let Some((scheme, _)) = uri.split_once("://") {
            if scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            {
                return Err(invalid(&format!(
                    "unsupported scheme '{scheme}' (use hdfs:// or file://)"
                )));
            }
        }
        Ok(FsUri {
            scheme: Scheme::Local,
            prefix: String::new(),
            path: uri.to_string(),
        })
    }

    /// The same file system with another path.
    pub fn with_path(&self, path: &str) -> FsUri {
        FsUri {
            scheme: self.scheme.clone(),
            prefix: self.prefix.clone(),
            path: path.to_string(),
        }
    }

    /// The child `name` of this path.
    pub fn join(&self, name: &str) -> FsUri {
        let path = if self.path.ends_with('/') {
            format!("{}{name}", self.path)
        } else {
            format!("{}/{name}", self.path)
        };
        self.with_path(&path)
    }

    /// The last component of the path (empty for the root).
    pub fn file_name(&self) -> &str {
        self.path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
    }
}

impl fmt::Display for FsUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.prefix, self.path)
    }
}

/// Collapses repeated slashes and drops a trailing one (except for the root).
fn normalize(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 1);
    for part in path.split('/').filter(|p| !p.is_empty()) {
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hdfs_file_and_bare_paths() {
        let u = FsUri::parse("hdfs://nn:8020/a//b/").unwrap();
        assert_eq!(
            u.scheme,
            Scheme::Hdfs {
                authority: "nn:8020".into()
            }
        );
        assert_eq!(u.path, "/a/b");
        assert_eq!(u.to_string(), "hdfs://nn:8020/a/b");
        assert_eq!(u.join("c").to_string(), "hdfs://nn:8020/a/b/c");
        assert_eq!(u.file_name(), "b");
        let d = FsUri::parse("hdfs:///x").unwrap();
        assert_eq!(
            d.scheme,
            Scheme::Hdfs {
                authority: String::new()
            }
        );
        assert_eq!(d.to_string(), "hdfs:///x");
        assert_eq!(FsUri::parse("hdfs://ns1").unwrap().path, "/");
        let f = FsUri::parse("file:///tmp/x").unwrap();
        assert_eq!((f.scheme.clone(), f.path.as_str()), (Scheme::Local, "/tmp/x"));
        assert_eq!(f.to_string(), "file:///tmp/x");
        assert_eq!(FsUri::parse("rel/p").unwrap().path, "rel/p");
        assert_eq!(FsUri::parse("rel/p").unwrap().join("q").to_string(), "rel/p/q");
    }

    #[test]
    fn rejects_unknown_schemes_and_empty_paths() {
        let e = FsUri::parse("s3://bucket/k").unwrap_err().to_string();
        assert!(
            e.contains("s3://bucket/k") && e.contains("unsupported scheme"),
            "{e}"
        );
        assert!(FsUri::parse("").is_err());
        assert!(FsUri::parse("file://host/x").is_err());
    }
}
