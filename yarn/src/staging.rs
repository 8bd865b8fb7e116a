//! Staging: an application's files are uploaded to `/user/<user>/.spate/<application-id>/` in
//! HDFS before submission, and registered as [`LocalResource`]s that the NodeManagers download.
//! A `LocalResource` must carry the file's exact length and modification time as the NameNode
//! reports them, so they are read back after the upload. The directory is removed when the
//! application ends ([`remove_staging_dir`]).
//!
//! Files are written as the user the application runs as (YARN localizes them as that user);
//! as on any Hadoop cluster, that user's home `/user/<user>` must exist and be theirs.
//!
//! ```no_run
//! # fn main() -> spate_yarn::Result<()> {
//! # let app_id: spate_yarn::ApplicationId = "application_1_0001".parse()?;
//! use spate_yarn::{Staging, YarnConf};
//! let conf = YarnConf::from_env()?;
//! let staging = Staging::create(conf.hadoop(), "alice", app_id)?;
//! let binary = staging.upload(std::path::Path::new("target/release/spate"), "spate")?;
//! // … put `binary` into the ContainerLaunchContext's local_resources under "spate" …
//! # let _ = binary;
//! spate_yarn::remove_staging_dir(conf.hadoop(), "alice", app_id)?;
//! # Ok(()) }
//! ```

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use spate_fs::hdfs::{HdfsFileSystem, HdfsOptions};
use spate_fs::{FileSystem, FsUri};
use spate_hadoop_ipc::{HadoopConf, NameNodeClient};

use crate::error::{Error, Result};
use crate::ids::ApplicationId;
use crate::launch::LocalResource;

/// The directory, under the user's home, that holds every Spate application's staged files.
pub const STAGING_ROOT: &str = ".spate";

/// The HDFS path of an application's staging directory.
pub fn staging_dir(user: &str, app: ApplicationId) -> String {
    format!("/user/{user}/{STAGING_ROOT}/{app}")
}

/// An application's staging directory in HDFS.
#[derive(Debug)]
pub struct Staging {
    fs: Arc<dyn FileSystem>,
    namenode: NameNodeClient,
    nn_host: String,
    nn_port: u16,
    dir: FsUri,
}

impl Staging {
    /// Creates (if missing) the staging directory of `app` for `user` on the NameNode of
    /// `fs.defaultFS`. Files are written as `user`, the user the application runs as.
    pub fn create(conf: &HadoopConf, user: &str, app: ApplicationId) -> Result<Self> {
        let (fs, dir, nn_addr) = open(conf, user, app)?;
        let (nn_host, nn_port) = split_address(&nn_addr)?;
        fs.mkdirs(&dir)?;
        let namenode = NameNodeClient::connect(&nn_addr, user)?;
        Ok(Staging {
            fs,
            namenode,
            nn_host,
            nn_port,
            dir,
        })
    }

    /// The directory, e.g. `hdfs://127.0.0.1:9000/user/alice/.spate/application_…`.
    pub fn dir(&self) -> &FsUri {
        &self.dir
    }

    /// Uploads a local file as `<dir>/<name>` (replacing it) and returns its resource, to be
    /// registered under the link name `name`.
    pub fn upload(&self, local: &Path, name: &str) -> Result<LocalResource> {
        let mut file = std::fs::File::open(local).map_err(|source| Error::LocalFile {
            path: local.display().to_string(),
            source,
        })?;
        self.write(name, |w| {
            std::io::copy(&mut file, w)
                .map(drop)
                .map_err(|source| Error::LocalFile {
                    path: local.display().to_string(),
                    source,
                })
        })
    }

    /// Uploads bytes as `<dir>/<name>` (e.g. a generated configuration file).
    pub fn upload_bytes(&self, data: &[u8], name: &str) -> Result<LocalResource> {
        self.write(name, |w| {
            w.write_all(data).map_err(|source| Error::LocalFile {
                path: format!("<{} bytes for {name}>", data.len()),
                source,
            })
        })
    }

    /// The resource of a file already in HDFS (any path on this NameNode), from its status.
    pub fn resource_of(&self, hdfs_path: &str) -> Result<LocalResource> {
        let status = self.namenode.get_file_info(hdfs_path)?.ok_or_else(|| {
            Error::Fs(spate_fs::Error::NotFound {
                path: hdfs_path.to_string(),
            })
        })?;
        if !status.is_file() {
            return Err(Error::InvalidArgument(format!("{hdfs_path} is not a file")));
        }
        let size = i64::try_from(status.length)
            .map_err(|_| Error::protocol(format!("length {} of {hdfs_path}", status.length)))?;
        let mtime = i64::try_from(status.modification_time).map_err(|_| {
            Error::protocol(format!(
                "modification time {} of {hdfs_path}",
                status.modification_time
            ))
        })?;
        Ok(LocalResource::hdfs_file(
            &self.nn_host,
            self.nn_port,
            &status.path,
            size,
            mtime,
        ))
    }

    fn write(&self, name: &str, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<LocalResource> {
        check_name(name)?;
        let target = self.dir.join(name);
        let mut writer = self.fs.create(&target, true)?;
        fill(&mut writer)?;
        writer.close()?;
        tracing::debug!(%target, "staged file");
        self.resource_of(&target.path)
    }
}

/// Deletes the staging directory of `app` (with its files); false when it did not exist.
pub fn remove_staging_dir(conf: &HadoopConf, user: &str, app: ApplicationId) -> Result<bool> {
    let (fs, dir, _) = open(conf, user, app)?;
    Ok(fs.delete(&dir, true)?)
}

/// The file system of `fs.defaultFS` acting as `user`, the staging directory's URI on it, and
/// the NameNode's `host:port`.
fn open(conf: &HadoopConf, user: &str, app: ApplicationId) -> Result<(Arc<dyn FileSystem>, FsUri, String)> {
    check_user(user)?;
    let nn_addr = conf.namenode_address()?;
    let dir = FsUri::parse(&format!("hdfs://{nn_addr}{}", staging_dir(user, app)))?;
    let options = HdfsOptions {
        user: Some(user.to_string()),
        ..HdfsOptions::default()
    };
    let fs: Arc<dyn FileSystem> = Arc::new(HdfsFileSystem::connect_with(&nn_addr, options)?);
    Ok((fs, dir, nn_addr))
}

/// A link name: one path component.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(Error::InvalidArgument(format!(
            "'{name}' is not a file name (one path component)"
        )));
    }
    Ok(())
}

fn check_user(user: &str) -> Result<()> {
    check_name(user).map_err(|_| Error::InvalidArgument(format!("'{user}' is not a user name")))
}

fn split_address(addr: &str) -> Result<(String, u16)> {
    addr.rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse().ok()?)))
        .ok_or_else(|| Error::Conf(format!("namenode address '{addr}' is not host:port")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_names() {
        let app = ApplicationId {
            cluster_timestamp: 1,
            id: 2,
        };
        assert_eq!(staging_dir("alice", app), "/user/alice/.spate/application_1_0002");
        for bad in ["", ".", "..", "a/b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name("spate-tm").is_ok());
        assert!(check_user("a/b").is_err());
        assert_eq!(split_address("nn:9000").unwrap(), ("nn".to_string(), 9000));
        assert!(split_address("nn").is_err());
    }
}
