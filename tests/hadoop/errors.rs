//! Errors: a missing path, permission denied, an unreachable NameNode.

use crate::fixture::{hadoop, unique};
use spate::StreamEnv;
use spate_connectors::hdfs::HdfsTextSource;
use spate_fs::hdfs::{HdfsFileSystem, HdfsOptions};
use spate_fs::{FileSystem, FsUri};
use std::time::{Duration, Instant};

#[test]
fn a_missing_hdfs_path_fails_the_job_with_an_error_naming_it() {
    let Some(h) = hadoop("missing_path") else { return };
    let missing = h.uri(&format!("{}/nope.txt", unique("missing")));
    let (fs, uri) = spate_fs::resolve(&missing).unwrap();
    assert!(fs.status(&uri).unwrap_err().is_not_found());
    let env = StreamEnv::local();
    env.from_source(HdfsTextSource::new(missing.clone())).collect();
    let e = env.execute("missing").unwrap_err().to_string();
    eprintln!("missing path: {e}");
    assert!(e.contains(&missing) && e.contains("does not exist"), "{e}");
}

#[test]
fn permission_denied_is_its_own_error() {
    let Some(h) = hadoop("permission_denied") else {
        return;
    };
    // A directory of the user running the tests (the superuser that started the minicluster),
    // mode 755: another user may not create files in it.
    let dir = FsUri::parse(&h.uri(&unique("private"))).unwrap();
    spate_fs::for_uri(&dir).unwrap().mkdirs(&dir).unwrap();
    let authority = h.default_fs.trim_start_matches("hdfs://");
    let options = HdfsOptions {
        user: Some("spate-nobody".into()),
        ..HdfsOptions::default()
    };
    let other = HdfsFileSystem::connect_with(authority, options).unwrap();
    let e = other.create(&dir.join("f"), false).err().unwrap();
    eprintln!("permission: {e}");
    assert!(e.is_permission_denied(), "{e}");
    assert!(e.to_string().contains(&dir.to_string()), "{e}");
}

#[test]
fn an_unreachable_namenode_fails_quickly_with_an_error_naming_the_uri() {
    // A closed port: bound, then released. Needs no minicluster.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let uri = format!("hdfs://127.0.0.1:{port}/data/in.txt");
    let start = Instant::now();
    let (fs, parsed) = spate_fs::resolve(&uri).unwrap();
    let e = fs.status(&parsed).unwrap_err().to_string();
    let took = start.elapsed();
    eprintln!("after {took:?}: {e}");
    assert!(e.contains(&uri) && e.contains("cannot reach the NameNode"), "{e}");
    assert!(took < Duration::from_secs(12), "took {took:?}");

    // The same through a job.
    let start = Instant::now();
    let env = StreamEnv::local();
    env.from_source(HdfsTextSource::new(uri.clone())).collect();
    let e = env.execute("unreachable").unwrap_err().to_string();
    assert!(e.contains(&uri), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(12),
        "took {:?}",
        start.elapsed()
    );
}
