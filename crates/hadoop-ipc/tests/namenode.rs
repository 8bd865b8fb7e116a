//! `NameNodeClient` against the real minicluster: block locations equal what Hadoop's own Java
//! client reports, status/listing/paging, errors, and TOKEN/DIGEST-MD5 with a delegation token.
//!
//! Needs `HADOOP_CONF_DIR` (see `scripts/minicluster.sh env`); without it the tests print a skip
//! message and pass, unless `SPATE_REQUIRE_HADOOP=1`.
#![allow(clippy::unwrap_used)] // test helpers panic on failure

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use spate_hadoop_ipc::{Auth, ConnectOptions, Error, FileType, HadoopConf, NameNodeClient};

const BLOCK_SIZE: usize = 1024 * 1024;
const DATA_LEN: usize = 2 * BLOCK_SIZE + 400_000; // three blocks, the last one partial
const SUBDIRS: usize = 1003; // more than one getListing page (dfs.ls.limit = 1000)

/// Files created once for all tests, with Hadoop's own client.
struct Fixture {
    conf: HadoopConf,
    /// The HDFS directory holding `data.bin`, `small.txt` and `many/`.
    base: String,
    /// `scripts/hadoop-cli.sh blocks` output for `data.bin` and `small.txt`.
    java_blocks: String,
}

fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE.get_or_init(make_fixture).as_ref()
}

fn make_fixture() -> Option<Fixture> {
    if std::env::var_os("HADOOP_CONF_DIR").is_none() {
        if std::env::var("SPATE_REQUIRE_HADOOP").as_deref() == Ok("1") {
            panic!("SPATE_REQUIRE_HADOOP=1 but HADOOP_CONF_DIR is not set (scripts/minicluster.sh env)");
        }
        eprintln!("skipping: HADOOP_CONF_DIR is not set (start one with scripts/minicluster.sh start)");
        return None;
    }
    let conf = HadoopConf::from_env().expect("read HADOOP_CONF_DIR");
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let base = format!("/spate-ipc-test/{}-{nanos}", std::process::id());

    let local = tempfile::tempdir().unwrap();
    let dir = local.path().join("d");
    std::fs::create_dir_all(&dir).unwrap();
    let mut x: u64 = 42;
    let data: Vec<u8> = (0..DATA_LEN)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 56) as u8
        })
        .collect();
    std::fs::write(dir.join("data.bin"), data).unwrap();
    std::fs::write(dir.join("small.txt"), "hello\n").unwrap();

    // Replication 1 spreads the blocks over the three hosts, so a wrong host would show.
    cli(&["fs", "-mkdir", "-p", "/spate-ipc-test"]);
    cli(&[
        "fs",
        "-D",
        &format!("dfs.blocksize={BLOCK_SIZE}"),
        "-D",
        "dfs.replication=1",
        "-put",
        dir.to_str().unwrap(),
        &base,
    ]);
    let mut mkdir = vec!["fs".to_string(), "-mkdir".into(), "-p".into()];
    mkdir.extend((0..SUBDIRS).map(|i| format!("{base}/many/d{i:04}")));
    cli(&mkdir.iter().map(String::as_str).collect::<Vec<_>>());
    let java_blocks = cli(&[
        "blocks",
        &format!("{base}/data.bin"),
        &format!("{base}/small.txt"),
    ]);
    Some(Fixture {
        conf,
        base,
        java_blocks,
    })
}

/// Runs `scripts/hadoop-cli.sh ARGS` and returns its stdout.
fn cli(args: &[&str]) -> String {
    let script: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/hadoop-cli.sh");
    let out = Command::new(&script)
        .args(args)
        .output()
        .expect("run scripts/hadoop-cli.sh");
    assert!(
        out.status.success(),
        "hadoop-cli.sh {} failed: {}",
        args.first().unwrap_or(&""),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn client(f: &Fixture) -> NameNodeClient {
    NameNodeClient::from_conf(&f.conf, &spate_hadoop_ipc::namenode::current_user())
        .expect("connect to namenode")
}

/// One line per block in the format of `hadoop-cli.sh blocks`, hosts and names sorted.
fn our_blocks(nn: &NameNodeClient, path: &str) -> Vec<String> {
    let len = nn.get_file_info(path).unwrap().expect("file exists").length;
    nn.get_block_locations(path, 0, len)
        .unwrap()
        .into_iter()
        .map(|b| {
            let hosts: BTreeSet<_> = b.hosts.iter().cloned().collect();
            let names: BTreeSet<_> = b.names.iter().cloned().collect();
            let join = |s: BTreeSet<String>| s.into_iter().collect::<Vec<_>>().join(",");
            format!(
                "{path}\toffset={} length={} hosts={} names={}",
                b.offset,
                b.length,
                join(hosts),
                join(names)
            )
        })
        .collect()
}

#[test]
fn block_locations_equal_hadoops_own_client() {
    let Some(f) = fixture() else { return };
    let nn = client(f);
    let mut ours = our_blocks(&nn, &format!("{}/data.bin", f.base));
    ours.extend(our_blocks(&nn, &format!("{}/small.txt", f.base)));
    let java: Vec<String> = f.java_blocks.lines().map(str::to_string).collect();
    eprintln!("java client:\n{}\nspate:\n{}", java.join("\n"), ours.join("\n"));
    assert_eq!(ours, java);
    assert_eq!(ours.len(), 4, "three blocks of data.bin and one of small.txt");

    let blocks = nn
        .get_block_locations(&format!("{}/data.bin", f.base), 0, u64::MAX)
        .unwrap();
    let offsets: Vec<u64> = blocks.iter().map(|b| b.offset).collect();
    assert_eq!(offsets, vec![0, BLOCK_SIZE as u64, 2 * BLOCK_SIZE as u64]);
    assert_eq!(blocks.iter().map(|b| b.length).sum::<u64>(), DATA_LEN as u64);
    let sim_hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
    for b in &blocks {
        assert_eq!(b.hosts.len(), 1, "replication 1");
        assert!(sim_hosts.contains(&b.hosts[0].as_str()), "{:?}", b.hosts);
        assert!(!b.corrupt);
    }
    // A range inside the second block returns only that block.
    let mid = nn
        .get_block_locations(&format!("{}/data.bin", f.base), BLOCK_SIZE as u64 + 10, 100)
        .unwrap();
    assert_eq!(mid, vec![blocks[1].clone()]);
}

#[test]
fn file_info_and_missing_paths() {
    let Some(f) = fixture() else { return };
    let nn = client(f);
    let st = nn
        .get_file_info(&format!("{}/data.bin", f.base))
        .unwrap()
        .unwrap();
    assert_eq!(st.file_type, FileType::File);
    assert_eq!(st.length, DATA_LEN as u64);
    assert_eq!(st.block_size, BLOCK_SIZE as u64);
    assert_eq!(st.replication, 1);
    assert_eq!(st.path, format!("{}/data.bin", f.base));
    assert!(st.modification_time > 1_600_000_000_000);
    let dir = nn
        .get_file_info(&format!("hdfs://{}{}", nn.addr(), f.base))
        .unwrap()
        .unwrap();
    assert!(dir.is_dir());

    let missing = format!("{}/no-such-file", f.base);
    assert_eq!(nn.get_file_info(&missing).unwrap(), None);
    let err = nn.get_block_locations(&missing, 0, 10).unwrap_err();
    let remote = err.remote().expect("a remote exception");
    assert!(remote.is_file_not_found(), "{err}");
    assert_eq!(remote.class_name, "java.io.FileNotFoundException");
    eprintln!("missing path: {err}");
    let err = nn.list(&missing).unwrap_err();
    assert!(err.remote().is_some_and(|r| r.is_file_not_found()), "{err}");
    // The connection is still usable after remote errors.
    assert!(nn.get_file_info("/").unwrap().unwrap().is_dir());
}

#[test]
fn listing_pages_through_large_directories() {
    let Some(f) = fixture() else { return };
    let nn = client(f);
    let top = nn.list(&f.base).unwrap();
    let names: Vec<&str> = top.iter().map(|s| s.path.rsplit('/').next().unwrap()).collect();
    assert_eq!(names, vec!["data.bin", "many", "small.txt"]);
    assert!(top[1].is_dir() && top[0].is_file());
    assert_eq!(top[2].path, format!("{}/small.txt", f.base));

    let many = nn.list(&format!("{}/many", f.base)).unwrap();
    assert_eq!(many.len(), SUBDIRS);
    let expected: Vec<String> = (0..SUBDIRS).map(|i| format!("{}/many/d{i:04}", f.base)).collect();
    assert_eq!(many.iter().map(|s| s.path.clone()).collect::<Vec<_>>(), expected);

    // Listing a file returns the file itself.
    let file = nn.list(&format!("{}/small.txt", f.base)).unwrap();
    assert_eq!(file.len(), 1);
    assert_eq!(file[0].path, format!("{}/small.txt", f.base));
    assert_eq!(file[0].length, 6);
}

#[test]
fn wrong_port_fails_fast_with_the_address() {
    let Some(f) = fixture() else { return };
    let addr = f.conf.namenode_address().unwrap();
    let host = addr.rsplit_once(':').unwrap().0;
    let port = std::net::TcpListener::bind(format!("{host}:0"))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let wrong = format!("{host}:{port}");
    let start = Instant::now();
    let err = NameNodeClient::connect(&wrong, "nobody").unwrap_err();
    let took = start.elapsed();
    eprintln!("wrong port after {took:?}: {err}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert!(err.to_string().contains(&wrong), "{err}");
}

#[test]
fn delegation_token_authenticates_with_digest_md5() {
    let Some(f) = fixture() else { return };
    let nn = client(f);
    let token = nn
        .get_delegation_token("spate")
        .expect("delegation token (dfs.namenode.delegation.token.always-use)");
    eprintln!("token: {token:?}");
    assert_eq!(token.kind, "HDFS_DELEGATION_TOKEN");

    let addr = f.conf.namenode_address().unwrap();
    let with_token =
        NameNodeClient::connect_with(&addr, Auth::Token(token.clone()), ConnectOptions::default())
            .expect("sasl");
    let st = with_token
        .get_file_info(&format!("{}/small.txt", f.base))
        .unwrap()
        .unwrap();
    assert_eq!(st.length, 6);

    // A wrong password is refused by the server during SASL, quickly and clearly.
    let mut bad = token;
    bad.password[0] ^= 0xff;
    let start = Instant::now();
    let err = NameNodeClient::connect_with(&addr, Auth::Token(bad), ConnectOptions::default()).unwrap_err();
    eprintln!("bad token: {err}");
    assert!(start.elapsed() < Duration::from_secs(10));
    let remote = err.remote().expect("server refusal");
    assert!(remote.fatal, "{err}");
}
