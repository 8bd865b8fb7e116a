//! Reading files that Hadoop's own client wrote.

use crate::fixture::{hadoop, shared_input};
use spate::StreamEnv;
use spate_connectors::hdfs::HdfsTextSource;
use spate_e2e::reference_wordcount;
use std::collections::HashMap;

#[test]
fn a_multi_block_file_put_by_hadoop_is_read_line_for_line_at_parallelism_1_and_3() {
    let Some(h) = hadoop("read_multi_block") else {
        return;
    };
    let (local, path) = shared_input(h);
    let mut expected: Vec<String> = std::fs::read_to_string(local)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    expected.sort();

    // Splits follow the 1 MiB blocks of the 3.5 MB file.
    let splits = HdfsTextSource::new(h.uri(path)).splits(3).unwrap();
    let bounds: Vec<(u64, u64)> = splits.iter().map(|s| (s.start, s.end)).collect();
    let (mb, len) = (1 << 20, std::fs::metadata(local).unwrap().len());
    assert_eq!(
        bounds,
        [(0, mb), (mb, 2 * mb), (2 * mb, 3 * mb), (3 * mb, len)],
        "{splits:?}"
    );

    // Each split carries the hosts of its block's replicas, as the NameNode reports them.
    for s in &splits {
        assert!(!s.hosts.is_empty(), "split without hosts: {s:?}");
        assert!(
            s.hosts
                .iter()
                .all(|h| ["127.0.0.2", "127.0.0.3", "127.0.0.4"].contains(&h.as_str())),
            "{s:?}"
        );
    }

    // Lines do cross the block boundaries.
    let bytes = std::fs::read(local).unwrap();
    let crossing = (1..=3).filter(|k| bytes[k * (1 << 20) - 1] != b'\n').count();
    assert!(crossing > 0, "no line crosses a block boundary");

    // Parallelism 1 through fs.defaultFS (`hdfs:///...`); 3 through the full URI as a glob.
    let glob = h.uri(&path.replace("corpus.txt", "corp*.t?t"));
    for (p, uri) in [(1, format!("hdfs://{path}")), (3, glob)] {
        let env = StreamEnv::local();
        env.set_parallelism(p);
        let lines = env.from_source(HdfsTextSource::new(uri.clone())).collect();
        let result = env.execute("read hdfs").unwrap();
        let mut got = lines.take();
        got.sort();
        assert_eq!(
            got.len(),
            expected.len(),
            "line count at parallelism {p} from {uri}"
        );
        assert!(got == expected, "lines differ at parallelism {p} from {uri}");
        eprintln!(
            "parallelism {p}: {} lines from {uri} in {:?}",
            got.len(),
            result.duration
        );
    }
}

#[test]
fn wordcount_over_hdfs_equals_wordcount_over_the_local_copy() {
    let Some(h) = hadoop("wordcount_hdfs") else { return };
    let (local, path) = shared_input(h);
    let env = StreamEnv::local();
    env.set_parallelism(3);
    let counts =
        spate_examples::wordcount::counts(&env.from_source(HdfsTextSource::new(h.uri(path)))).collect();
    env.execute("hdfs wordcount").unwrap();
    let got: HashMap<String, u64> = counts.take().into_iter().collect();
    let expected = reference_wordcount(local);
    assert!(expected.len() > 1000);
    assert_eq!(got, expected);
}
