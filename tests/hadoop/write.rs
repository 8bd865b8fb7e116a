//! Writing to HDFS: read back by Hadoop's own client; nothing visible after a failed job.

use crate::fixture::{hadoop, shared_input, unique};
use spate::StreamEnv;
use spate_connectors::hdfs::{FsTextSink, HdfsTextSource};
use spate_connectors::text_sink::LineFormat;
use spate_e2e::reference_wordcount;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn tab_format() -> LineFormat<(String, u64)> {
    Arc::new(|(w, n): &(String, u64), line: &mut String| line.push_str(&format!("{w}\t{n}")))
}

/// The names in an HDFS directory, through spate-fs.
fn names(uri: &str) -> Vec<String> {
    let (fs, dir) = spate_fs::resolve(uri).unwrap();
    let mut n: Vec<String> = fs
        .list_dir(&dir)
        .unwrap()
        .iter()
        .map(|s| s.uri.file_name().to_string())
        .collect();
    n.sort();
    n
}

#[test]
fn output_of_the_hdfs_sink_is_read_back_by_hdfs_dfs_cat() {
    let Some(h) = hadoop("sink_cat") else { return };
    let (local, path) = shared_input(h);
    let out = unique("out");
    let env = StreamEnv::local();
    env.set_parallelism(2);
    let counts = spate_examples::wordcount::counts(&env.from_source(HdfsTextSource::new(h.uri(path))));
    counts.sink_to(FsTextSink::new(h.uri(&out), tab_format()));
    env.execute("hdfs wordcount to hdfs").unwrap();

    assert_eq!(names(&h.uri(&out)), ["part-00000", "part-00001"]);
    let text = h.cli(&["fs", "-cat", &format!("{out}/part-*")]);
    let mut got = HashMap::new();
    for line in text.lines() {
        let (w, n) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("malformed line {line:?}"));
        assert!(
            got.insert(w.to_string(), n.parse::<u64>().unwrap()).is_none(),
            "{w} twice"
        );
    }
    assert_eq!(got, reference_wordcount(local));
}

#[test]
fn a_failing_job_leaves_no_visible_part_files() {
    let Some(h) = hadoop("sink_failure") else { return };
    let (_, path) = shared_input(h);
    let out = unique("failed");
    let env = StreamEnv::local();
    env.set_parallelism(2);
    let seen = Arc::new(AtomicUsize::new(0));
    env.from_source(HdfsTextSource::new(h.uri(path)))
        .map(move |line: String| {
            // Enough records reach the in-progress files before the failure.
            if seen.fetch_add(1, Ordering::Relaxed) == 20_000 {
                panic!("injected failure");
            }
            (line, 1u64)
        })
        .sink_to(FsTextSink::new(h.uri(&out), tab_format()));
    let e = env.execute("failing job").unwrap_err().to_string();
    assert!(e.contains("injected failure"), "{e}");
    assert_eq!(
        names(&h.uri(&out)),
        Vec::<String>::new(),
        "no part or in-progress files stay"
    );
    let listing = h.cli(&["fs", "-ls", &out]);
    assert!(!listing.contains("part-"), "{listing}");
}

#[test]
fn the_wordcount_example_reads_and_writes_hdfs_uris() {
    let Some(h) = hadoop("wordcount_example") else {
        return;
    };
    let (local, path) = shared_input(h);
    let out = unique("wordcount-example");
    let run = |host: Option<&str>| {
        let mut cmd = std::process::Command::new(spate_e2e::binary("examples/wordcount"));
        cmd.args([
            "--input",
            &h.uri(path),
            "--output",
            &h.uri(&out),
            "--parallelism",
            "2",
        ]);
        if let Some(host) = host {
            cmd.env("SPATE_DYNAMIC_PROPERTIES", format!("taskmanager.host={host}"));
        }
        let run = cmd.output().unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        String::from_utf8_lossy(&run.stdout).into_owned()
    };
    // Every block has a replica on each simulated host: a worker on 127.0.0.2 reads all locally,
    // a worker on no data host reads everything remotely.
    let stdout = run(Some("127.0.0.2"));
    let splits = stdout
        .lines()
        .find(|l| l.starts_with("splits: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        splits.starts_with("splits: local=4 remote=0 local_bytes="),
        "{splits}"
    );
    let stdout = run(Some("elsewhere.example"));
    assert!(
        stdout.contains("splits: local=0 remote=4 local_bytes=0 "),
        "{stdout}"
    );

    let text = h.cli(&["fs", "-cat", &format!("{out}/part-*")]);
    let got: HashMap<String, u64> = text
        .lines()
        .map(|l| {
            let (w, n) = l.split_once('\t').unwrap();
            (w.to_string(), n.parse().unwrap())
        })
        .collect();
    assert_eq!(got, reference_wordcount(local));
}
