//! An HA nameservice in the client configuration: a job given `hdfs://spate-ns/...` URIs (and
//! `hdfs:///...` with `fs.defaultFS = hdfs://spate-ns`) reaches the minicluster's NameNode through
//! a nameservice whose first NameNode refuses connections, for its data, its metadata and its
//! block locations.

use crate::fixture::{hadoop, shared_input, unique};
use spate_e2e::reference_wordcount;
use std::collections::HashMap;
use std::path::Path;

/// The nameservice of the test configuration.
const NAMESERVICE: &str = "spate-ns";

/// Writes into `dir` a copy of the client configuration in `from` where `fs.defaultFS` is
/// `hdfs://spate-ns`, a nameservice of two NameNodes: `bogus` at `dead` (refusing connections),
/// then `real` at `namenode`.
fn write_ha_conf(from: &Path, dir: &Path, dead: &str, namenode: &str) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let core = std::fs::read_to_string(from.join("core-site.xml")).unwrap();
    let at = core.find("<name>fs.defaultFS</name>").unwrap();
    let value = at + core[at..].find("<value>").unwrap() + "<value>".len();
    let end = value + core[value..].find("</value>").unwrap();
    let core = format!("{}hdfs://{NAMESERVICE}{}", &core[..value], &core[end..]);
    std::fs::write(dir.join("core-site.xml"), core).unwrap();

    let property =
        |name: &str, value: &str| format!("<property><name>{name}</name><value>{value}</value></property>\n");
    let ns = NAMESERVICE;
    let extra = [
        property("dfs.nameservices", ns),
        property(&format!("dfs.ha.namenodes.{ns}"), "bogus,real"),
        property(&format!("dfs.namenode.rpc-address.{ns}.bogus"), dead),
        property(&format!("dfs.namenode.rpc-address.{ns}.real"), namenode),
        property(
            &format!("dfs.client.failover.proxy.provider.{ns}"),
            "org.apache.hadoop.hdfs.server.namenode.ha.ConfiguredFailoverProxyProvider",
        ),
    ]
    .concat();
    let hdfs = std::fs::read_to_string(from.join("hdfs-site.xml")).unwrap();
    let close = hdfs.rfind("</configuration>").unwrap();
    let hdfs = format!("{}{extra}{}", &hdfs[..close], &hdfs[close..]);
    std::fs::write(dir.join("hdfs-site.xml"), hdfs).unwrap();
}

/// A local address nobody listens on.
fn refused_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

#[test]
fn the_wordcount_example_runs_on_a_nameservice_whose_first_namenode_is_down() {
    let Some(h) = hadoop("ha_nameservice") else {
        return;
    };
    let (local, path) = shared_input(h);
    let conf = tempfile::tempdir().unwrap();
    let namenode = h.default_fs.trim_start_matches("hdfs://").trim_end_matches('/');
    let original = std::env::var("HADOOP_CONF_DIR").unwrap();
    write_ha_conf(Path::new(&original), conf.path(), &refused_address(), namenode);

    let expected = reference_wordcount(local);
    // A nameservice URI, then fs.defaultFS (which names the nameservice).
    for (input, output) in [
        (format!("hdfs://{NAMESERVICE}{path}"), unique("ha-out")),
        (format!("hdfs://{path}"), unique("ha-default-out")),
    ] {
        let out_uri = match input.starts_with("hdfs:///") {
            true => format!("hdfs://{output}"),
            false => format!("hdfs://{NAMESERVICE}{output}"),
        };
        let run = std::process::Command::new(spate_e2e::binary("examples/wordcount"))
            .args(["--input", &input, "--output", &out_uri, "--parallelism", "2"])
            .env("HADOOP_CONF_DIR", conf.path())
            // Every block has a replica here: all splits local proves the block locations came.
            .env("SPATE_DYNAMIC_PROPERTIES", "taskmanager.host=127.0.0.2")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{input}: {}\n{stdout}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(stdout.contains("splits: local=4 remote=0 "), "{input}: {stdout}");

        // Read back with Hadoop's own client on the original configuration.
        let text = h.cli(&["fs", "-cat", &format!("{output}/part-*")]);
        let got: HashMap<String, u64> = text
            .lines()
            .map(|l| {
                let (w, n) = l.split_once('\t').unwrap();
                (w.to_string(), n.parse().unwrap())
            })
            .collect();
        assert_eq!(got, expected, "{input}");
    }
}
