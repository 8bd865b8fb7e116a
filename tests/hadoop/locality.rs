//! Locality of split assignment on a multi-process cluster over the minicluster: TaskManagers on
//! the DataNodes' host identities (127.0.0.2-4) read the blocks stored on their own host.

use crate::fixture::{hadoop, unique, Hadoop};
use spate_connectors::hdfs::HdfsTextSource;
use spate_e2e::cluster::{job_id_of, Cluster};
use spate_e2e::{binary, read_wordcount_output, reference_wordcount, write_corpus};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

const HOSTS: [&str; 3] = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
const MIB: u64 = 1 << 20;

/// A local corpus of about 20 MiB, put into HDFS with 1 MiB blocks and one replica each, so every
/// block lives on one DataNode only: `(local path, HDFS path)`.
fn single_replica_input(h: &Hadoop) -> &'static (PathBuf, String) {
    static INPUT: OnceLock<(PathBuf, String)> = OnceLock::new();
    INPUT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("spate-hadoop-locality-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let local = dir.join("corpus.txt");
        write_corpus(&local, 20 * MIB as usize, 7).unwrap();
        let dir = unique("locality");
        h.cli(&["fs", "-mkdir", "-p", &dir]);
        let hdfs = format!("{dir}/corpus.txt");
        h.cli(&[
            "fs",
            "-D",
            "dfs.blocksize=1048576",
            "-D",
            "dfs.replication=1",
            "-put",
            local.to_str().unwrap(),
            &hdfs,
        ]);
        (local, hdfs)
    })
}

/// The `splits:` line of the word count's output as (local, remote, local bytes, remote bytes).
pub(crate) fn split_counts(stdout: &str) -> (u64, u64, u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("splits: "))
        .unwrap_or_else(|| panic!("no splits line in {stdout}"));
    let value = |key: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in {line}"))
            .parse()
            .unwrap()
    };
    (
        value("local"),
        value("remote"),
        value("local_bytes"),
        value("remote_bytes"),
    )
}

/// The number after `"key":` in a JSON text.
fn json_number(json: &str, key: &str) -> u64 {
    json.split(&format!("\"{key}\":"))
        .nth(1)
        .and_then(|s| s.split([',', '}']).next())
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        .trim()
        .parse()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs the word count at parallelism `p` on `cluster`; checks its result against the reference
/// and that `/jobs/{id}` shows the same counters as the job result. While it runs, watches the
/// REST API: returns the counters and whether `splits` was seen on the running job.
fn wordcount(
    cluster: &Cluster,
    h: &Hadoop,
    local: &Path,
    path: &str,
    p: u32,
) -> ((u64, u64, u64, u64), bool) {
    let out = cluster.dir.path().join(format!("out-{p}"));
    let done = AtomicBool::new(false);
    let (run, seen_running) = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut seen = false;
            while !done.load(Ordering::Relaxed) && !seen {
                let (_, jobs) = cluster.get("/jobs/overview");
                for jid in jobs
                    .split("\"jid\":\"")
                    .skip(1)
                    .filter_map(|s| s.split('"').next())
                {
                    let (_, job) = cluster.get(&format!("/jobs/{jid}"));
                    seen |= job.contains("\"state\":\"RUNNING\"") && job.contains("\"splits\":{");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            seen
        });
        let run = cluster.run(
            &["-p", &p.to_string()],
            &binary("examples/wordcount"),
            &["--input", &h.uri(path), "--output", out.to_str().unwrap()],
        );
        done.store(true, Ordering::Relaxed);
        (run, watcher.join().unwrap())
    });
    assert!(run.status.success(), "{}\n{}", text(&run), cluster.logs());
    assert_eq!(
        read_wordcount_output(&out),
        reference_wordcount(local),
        "every split read exactly once"
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    let counts = split_counts(&stdout);

    let (status, details) = cluster.get(&format!(
        "/jobs/{}",
        job_id_of(&String::from_utf8_lossy(&run.stderr))
    ));
    assert_eq!(status, 200, "{details}");
    let splits = details
        .split("\"splits\":")
        .nth(1)
        .unwrap_or_else(|| panic!("no splits in /jobs/{{id}}: {details}"));
    let splits = &splits[..splits.find('}').unwrap() + 1];
    assert_eq!(
        (
            json_number(splits, "local-splits"),
            json_number(splits, "remote-splits"),
            json_number(splits, "local-bytes"),
            json_number(splits, "remote-bytes"),
        ),
        counts,
        "REST and the job result agree"
    );
    (counts, seen_running)
}

#[test]
fn one_taskmanager_per_data_host_reads_at_least_95_percent_locally() {
    let Some(h) = hadoop("locality_one_taskmanager_per_host") else {
        return;
    };
    let (local, path) = single_replica_input(h);
    let len = std::fs::metadata(local).unwrap().len();
    // Every block on one host, spread over the three DataNodes as HDFS placed them.
    let splits = HdfsTextSource::new(h.uri(path)).splits(3).unwrap();
    let mut per_host = BTreeMap::<String, usize>::new();
    for s in &splits {
        assert_eq!(s.hosts.len(), 1, "one replica: {s:?}");
        *per_host.entry(s.hosts[0].clone()).or_default() += 1;
    }
    eprintln!("blocks per host: {per_host:?}");

    let cluster = Cluster::start_on(&HOSTS, 1, &[]);
    let ((local_splits, remote_splits, local_bytes, remote_bytes), seen_running) =
        wordcount(&cluster, h, local, path, 3);
    assert_eq!(local_splits + remote_splits, splits.len() as u64);
    assert_eq!(local_bytes + remote_bytes, len, "every byte counted once");
    let percent = local_bytes as f64 * 100.0 / len as f64;
    eprintln!(
        "locality: {percent:.1}% of bytes local ({local_splits} local, {remote_splits} remote splits); counters seen while running: {seen_running}"
    );
    assert!(seen_running, "the running job's /jobs/{{id}} had no splits");
    assert!(
        percent >= 95.0,
        "only {percent:.1}% local (blocks per host {per_host:?})\n{}",
        cluster.logs()
    );
}

#[test]
fn taskmanagers_on_one_host_still_read_every_split_once() {
    let Some(h) = hadoop("locality_taskmanagers_on_one_host") else {
        return;
    };
    let (local, path) = single_replica_input(h);
    let len = std::fs::metadata(local).unwrap().len();
    let splits = HdfsTextSource::new(h.uri(path)).splits(2).unwrap();
    let on_2 = splits.iter().filter(|s| s.hosts == ["127.0.0.2"]).count() as u64;

    // Two slots on 127.0.0.2 only: the blocks of 127.0.0.3 and .4 have no reader on their host
    // and must not wait for one.
    let cluster = Cluster::start_on(&["127.0.0.2"], 2, &[]);
    let started = std::time::Instant::now();
    let ((local_splits, remote_splits, local_bytes, remote_bytes), _) =
        wordcount(&cluster, h, local, path, 2);
    eprintln!(
        "one host: {local_splits} local, {remote_splits} remote splits in {:?}",
        started.elapsed()
    );
    assert_eq!(local_bytes + remote_bytes, len);
    assert_eq!(local_splits, on_2, "the blocks of 127.0.0.2 are read locally");
    assert_eq!(remote_splits, splits.len() as u64 - on_2);
    assert!(
        remote_splits > 0,
        "remote splits expected (did HDFS put every block on 127.0.0.2?)"
    );
}
