//! The minicluster handle: its configuration, Hadoop's own CLI, and one shared multi-block input.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A running minicluster, as seen through `HADOOP_CONF_DIR`.
pub struct Hadoop {
    /// `fs.defaultFS`, e.g. `hdfs://127.0.0.1:40123`.
    pub default_fs: String,
}

/// The minicluster, or `None` (after a skip message) when `HADOOP_CONF_DIR` is not set. With
/// `SPATE_REQUIRE_HADOOP=1` a missing minicluster is a failure.
pub fn hadoop(test: &str) -> Option<&'static Hadoop> {
    static HADOOP: OnceLock<Option<Hadoop>> = OnceLock::new();
    let h = HADOOP.get_or_init(|| {
        let conf = std::env::var("HADOOP_CONF_DIR").ok()?;
        let core = std::fs::read_to_string(Path::new(&conf).join("core-site.xml")).unwrap();
        let h = Hadoop {
            default_fs: xml_value(&core, "fs.defaultFS").unwrap(),
        };
        // Every test path lives under /spate-it (see `unique`); `hdfs dfs -put` does not create
        // parent directories, so make it once before any test runs.
        h.cli(&["fs", "-mkdir", "-p", "/spate-it"]);
        Some(h)
    });
    if h.is_none() {
        assert!(
            std::env::var("SPATE_REQUIRE_HADOOP").as_deref() != Ok("1"),
            "{test}: SPATE_REQUIRE_HADOOP=1 but HADOOP_CONF_DIR is not set (start scripts/minicluster.sh)"
        );
        eprintln!("skipping {test}: HADOOP_CONF_DIR is not set (no minicluster)");
    }
    h.as_ref()
}

/// The `<value>` of property `name` in a Hadoop `*-site.xml`.
fn xml_value(xml: &str, name: &str) -> Option<String> {
    let at = xml.find(&format!("<name>{name}</name>"))?;
    let rest = &xml[at..];
    let start = rest.find("<value>")? + "<value>".len();
    let end = rest.find("</value>")?;
    Some(rest[start..end].trim().to_string())
}

impl Hadoop {
    /// The full URI of an HDFS path.
    pub fn uri(&self, path: &str) -> String {
        format!("{}{path}", self.default_fs.trim_end_matches('/'))
    }

    /// Runs `scripts/hadoop-cli.sh args...` (Hadoop's own clients); its stdout, or a panic with
    /// its stderr.
    pub fn cli(&self, args: &[&str]) -> String {
        let script = repo_root().join("scripts/hadoop-cli.sh");
        let out = Command::new(&script).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "hadoop-cli {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// Held by tests that need room on particular NodeManagers (container placement) and by tests that
/// fill whole NodeManagers on purpose, so that they do not run at the same time.
pub static NODE_ROOM: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes [`NODE_ROOM`] (a test that panicked while holding it does not matter).
pub fn node_room() -> std::sync::MutexGuard<'static, ()> {
    NODE_ROOM.lock().unwrap_or_else(|p| p.into_inner())
}

/// YARN tests run side by side (they take [`yarn_shared`]), except a test that must see the
/// NodeManagers' room undisturbed by the others' containers ([`yarn_alone`]).
static YARN: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Taken by every test that runs YARN containers, for its whole run.
pub fn yarn_shared() -> std::sync::RwLockReadGuard<'static, ()> {
    YARN.read().unwrap_or_else(|p| p.into_inner())
}

/// Taken by a test that needs the YARN cluster to itself (containers placed by locality must
/// find room on the hosts they ask for).
pub fn yarn_alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    YARN.write().unwrap_or_else(|p| p.into_inner())
}

/// A fresh HDFS directory name for one test.
pub fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("/spate-it/{name}-{}-{nanos}", std::process::id())
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A local corpus of about 3.5 MB, put into HDFS once per run by `hdfs dfs -put` with 1 MiB
/// blocks (4 blocks): `(local path, HDFS path)`.
pub fn shared_input(h: &Hadoop) -> &'static (PathBuf, String) {
    static INPUT: OnceLock<(PathBuf, String)> = OnceLock::new();
    INPUT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("spate-hadoop-it-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let local = dir.join("corpus.txt");
        spate_e2e::write_corpus(&local, 3_500_000, 42).unwrap();
        let dir = unique("input");
        let (fs, uri) = spate_fs::resolve(&h.uri(&dir)).unwrap();
        fs.mkdirs(&uri).unwrap();
        let hdfs = format!("{dir}/corpus.txt");
        h.cli(&[
            "fs",
            "-D",
            "dfs.blocksize=1048576",
            "-put",
            local.to_str().unwrap(),
            &hdfs,
        ]);
        (local, hdfs)
    })
}
