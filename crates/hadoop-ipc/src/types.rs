//! Domain types returned by [`crate::NameNodeClient`], converted from the wire types.

use crate::error::{Error, Result};
use crate::proto::hdfs::hdfs_file_status_proto::FileType as WireFileType;
use crate::proto::hdfs::{HdfsFileStatusProto, LocatedBlocksProto};

/// Where one block of a file lives, as Hadoop's `FileSystem.getFileBlockLocations` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockLocation {
    /// Offset of the block's first byte in the file.
    pub offset: u64,
    /// Bytes in the block.
    pub length: u64,
    /// Host names of the DataNodes holding a replica (what schedulers match node names against).
    pub hosts: Vec<String>,
    /// `ip:xferPort` of the same DataNodes, in the same order.
    pub names: Vec<String>,
    /// Every replica of the block is corrupt.
    pub corrupt: bool,
}

/// What kind of entry a [`FileStatus`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    File,
    Directory,
    Symlink,
}

/// The status of a file, directory or symlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStatus {
    /// Absolute path (without scheme and authority).
    pub path: String,
    pub file_type: FileType,
    /// Bytes (0 for directories).
    pub length: u64,
    /// POSIX permission bits, e.g. `0o644`.
    pub permission: u16,
    pub owner: String,
    pub group: String,
    /// Milliseconds since the Unix epoch.
    pub modification_time: u64,
    pub access_time: u64,
    /// Replication factor (0 for directories).
    pub replication: u16,
    /// Block size (0 for directories).
    pub block_size: u64,
    /// The target of a symlink.
    pub symlink: Option<String>,
    /// The NameNode's inode id.
    pub file_id: u64,
}

impl FileStatus {
    pub fn is_dir(&self) -> bool {
        self.file_type == FileType::Directory
    }

    pub fn is_file(&self) -> bool {
        self.file_type == FileType::File
    }

    /// Converts a wire status; `parent` is the directory it was listed in, or the full path itself
    /// for `getFileInfo` (whose local name is empty).
    pub(crate) fn from_proto(p: HdfsFileStatusProto, parent: &str) -> Result<Self> {
        let file_type = match WireFileType::try_from(p.file_type) {
            Ok(WireFileType::IsDir) => FileType::Directory,
            Ok(WireFileType::IsFile) => FileType::File,
            Ok(WireFileType::IsSymlink) => FileType::Symlink,
            Err(_) => return Err(Error::protocol(format!("unknown file type {}", p.file_type))),
        };
        let name = String::from_utf8(p.path).map_err(|_| Error::protocol("file name is not UTF-8"))?;
        let path = join(parent, &name);
        let symlink = p.symlink.map(|s| String::from_utf8_lossy(&s).into_owned());
        Ok(FileStatus {
            path,
            file_type,
            length: p.length,
            permission: (p.permission.perm & 0o7777) as u16,
            owner: p.owner,
            group: p.group,
            modification_time: p.modification_time,
            access_time: p.access_time,
            replication: p.block_replication.unwrap_or(0).min(u32::from(u16::MAX)) as u16,
            block_size: p.blocksize.unwrap_or(0),
            symlink,
            file_id: p.file_id.unwrap_or(0),
        })
    }
}

/// The locations of every block in `located`, in file order.
pub(crate) fn block_locations(located: LocatedBlocksProto) -> Vec<BlockLocation> {
    located
        .blocks
        .into_iter()
        .map(|b| {
            let ids = b.locs.into_iter().map(|l| l.id);
            let (hosts, names) = ids
                .map(|id| (id.host_name, format!("{}:{}", id.ip_addr, id.xfer_port)))
                .unzip();
            BlockLocation {
                offset: b.offset,
                length: b.b.num_bytes(),
                hosts,
                names,
                corrupt: b.corrupt,
            }
        })
        .collect()
}

/// `parent/name`, or `parent` when `name` is empty.
fn join(parent: &str, name: &str) -> String {
    if name.is_empty() {
        parent.to_string()
    } else if parent.ends_with('/') {
        format!("{parent}{name}")
    } else {
        format!("{parent}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::hdfs::{
        DatanodeIdProto, DatanodeInfoProto, ExtendedBlockProto, FsPermissionProto, LocatedBlockProto,
    };

    #[test]
    fn status_conversion_and_paths() {
        let p = HdfsFileStatusProto {
            file_type: WireFileType::IsFile as i32,
            path: b"a.txt".to_vec(),
            length: 10,
            permission: FsPermissionProto { perm: 0o100644 },
            block_replication: Some(3),
            blocksize: Some(1 << 20),
            ..Default::default()
        };
        let s = FileStatus::from_proto(p.clone(), "/dir").unwrap();
        assert_eq!(
            (s.path.as_str(), s.permission, s.replication),
            ("/dir/a.txt", 0o644, 3)
        );
        assert!(s.is_file());
        assert_eq!(FileStatus::from_proto(p.clone(), "/").unwrap().path, "/a.txt");
        let bad = HdfsFileStatusProto {
            file_type: 9,
            ..p.clone()
        };
        assert!(FileStatus::from_proto(bad, "/").is_err());
        let bad_name = HdfsFileStatusProto {
            path: vec![0xff],
            ..p
        };
        assert!(FileStatus::from_proto(bad_name, "/").is_err());
    }

    #[test]
    fn located_blocks_to_locations() {
        let dn = |ip: &str| DatanodeInfoProto {
            id: DatanodeIdProto {
                ip_addr: ip.into(),
                host_name: ip.into(),
                xfer_port: 50010,
                ..Default::default()
            },
            location: None,
        };
        let lb = LocatedBlocksProto {
            blocks: vec![LocatedBlockProto {
                b: ExtendedBlockProto {
                    num_bytes: Some(7),
                    ..Default::default()
                },
                offset: 1024,
                locs: vec![dn("127.0.0.2"), dn("127.0.0.3")],
                ..Default::default()
            }],
            ..Default::default()
        };
        let locs = block_locations(lb);
        assert_eq!(locs.len(), 1);
        assert_eq!((locs[0].offset, locs[0].length), (1024, 7));
        assert_eq!(locs[0].hosts, vec!["127.0.0.2", "127.0.0.3"]);
        assert_eq!(locs[0].names, vec!["127.0.0.2:50010", "127.0.0.3:50010"]);
    }
}
