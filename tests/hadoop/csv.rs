//! CSV on HDFS: a file put by `hdfs dfs -put` read by Spate, and Spate's CSV output read back by
//! `hdfs dfs -cat`.

use crate::fixture::{hadoop, unique};
use spate::StreamEnv;
use spate_connectors::hdfs::{CsvSink, CsvSource};

/// Record `i` of the test data: quoted commas, doubled quotes, empty fields.
fn record(i: i64) -> Vec<String> {
    vec![
        i.to_string(),
        format!("name {i}, the {}th", i % 97),
        if i % 5 == 0 {
            String::new()
        } else {
            "say \"hi\"".repeat((i % 4) as usize)
        },
        "x".repeat((i % 41) as usize),
    ]
}

/// RFC 4180 quoting, written independently of the `csv` crate.
fn csv_line(r: &[String]) -> String {
    let field = |f: &String| {
        if f.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", f.replace('"', "\"\""))
        } else {
            f.clone()
        }
    };
    r.iter().map(field).collect::<Vec<_>>().join(",")
}

#[test]
fn a_csv_file_put_by_hadoop_is_read_at_parallelism_1_and_3_as_written() {
    let Some(h) = hadoop("csv_read") else { return };
    let expected: Vec<Vec<String>> = (0..40_000).map(record).collect();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("data.csv");
    let mut text = String::from("id,name,quote,pad\n");
    for r in &expected {
        text.push_str(&csv_line(r));
        text.push('\n');
    }
    std::fs::write(&local, &text).unwrap();
    let hdfs = format!("{}/data.csv", unique("csv-in"));
    let hdfs_dir = hdfs.trim_end_matches("/data.csv");
    h.cli(&["fs", "-mkdir", "-p", hdfs_dir]);
    h.cli(&[
        "fs",
        "-D",
        "dfs.blocksize=1048576",
        "-put",
        local.to_str().unwrap(),
        &hdfs,
    ]);

    let source = || CsvSource::new(h.uri(&hdfs)).with_header(true).with_field_count(4);
    let splits = source().splits(3).unwrap();
    assert!(splits.len() >= 2, "{splits:?}");
    assert!(splits.iter().all(|s| !s.hosts.is_empty()), "{splits:?}");
    let mut sorted = expected.clone();
    sorted.sort();
    for p in [1, 3] {
        let env = StreamEnv::local();
        env.set_parallelism(p);
        let records = env.from_source(source()).collect();
        env.execute("read csv from hdfs").unwrap();
        let mut got = records.take();
        got.sort();
        assert_eq!(got.len(), expected.len(), "record count at parallelism {p}");
        assert!(got == sorted, "records differ at parallelism {p}");
    }
}

#[test]
fn a_malformed_csv_record_on_hdfs_fails_the_job_naming_file_and_offset() {
    let Some(h) = hadoop("csv_malformed") else { return };
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("bad.csv");
    std::fs::write(&local, "a,b\nc,\"open\n").unwrap();
    let hdfs = format!("{}-bad.csv", unique("csv"));
    h.cli(&["fs", "-put", local.to_str().unwrap(), &hdfs]);
    let env = StreamEnv::local();
    let _ = env.from_source(CsvSource::new(h.uri(&hdfs))).collect();
    let e = env.execute("malformed csv").unwrap_err().to_string();
    assert!(e.contains(&hdfs) && e.contains("line 2 (byte offset 4)"), "{e}");
    assert!(e.contains("unterminated quoted field"), "{e}");
}

#[test]
fn csv_written_by_spate_to_hdfs_is_read_back_by_hdfs_dfs_cat() {
    let Some(h) = hadoop("csv_write") else { return };
    let records: Vec<Vec<String>> = (0..5_000).map(record).collect();
    let out = unique("csv-out");
    let env = StreamEnv::local();
    env.set_parallelism(2);
    env.from_collection(records.clone())
        .sink_to(CsvSink::new(h.uri(&out)).with_header(["id", "name", "quote", "pad"]));
    env.execute("write csv to hdfs").unwrap();

    let listing = h.cli(&["fs", "-ls", &out]);
    assert!(
        listing.contains("part-00000.csv") && listing.contains("part-00001.csv"),
        "{listing}"
    );
    assert!(!listing.contains("inprogress"), "{listing}");
    let text = h.cli(&["fs", "-cat", &format!("{out}/part-*")]);
    let mut got: Vec<&str> = text.lines().collect();
    let headers = got.iter().filter(|l| **l == "id,name,quote,pad").count();
    assert_eq!(headers, 2, "one header per part file");
    got.retain(|l| *l != "id,name,quote,pad");
    got.sort();
    let mut expected: Vec<String> = records.iter().map(|r| csv_line(r)).collect();
    expected.sort();
    assert_eq!(got, expected);
}

/// Record `i` of the multi-line data: quoted LF and CRLF line breaks, commas and doubled quotes;
/// `long` makes the note many lines long.
fn multi_line_record(i: i64, long: bool) -> Vec<String> {
    let note = if long {
        format!("{i}: ") + &"a line, \"quoted\"\n".repeat(200) + "a crlf line\r\nend"
    } else {
        match i % 3 {
            0 => format!("first {i}\nsecond, \"{i}\""),
            1 => format!("crlf\r\n{i}"),
            _ => format!("one line {i}"),
        }
    };
    vec![i.to_string(), note, "x".repeat((i % 17) as usize)]
}

#[test]
fn a_multi_block_csv_file_with_quoted_line_breaks_is_read_with_the_multi_line_option() {
    let Some(h) = hadoop("csv_multi_line") else {
        return;
    };
    const BLOCK: usize = 1 << 20;
    // About 3.3 MB; the record at every block boundary is a long multi-line one, so each boundary
    // falls inside a quoted field.
    let mut text = String::from("id,\"the\nnote\",pad\n");
    let mut expected = Vec::new();
    let mut straddlers = 0;
    for i in 0.. {
        if text.len() > 3 * BLOCK + 300_000 {
            break;
        }
        let near_boundary = (text.len() + 4000) / BLOCK > text.len() / BLOCK;
        let record = multi_line_record(i, near_boundary);
        let start = text.len();
        text.push_str(&csv_line(&record));
        text.push_str(if i % 2 == 0 { "\n" } else { "\r\n" });
        if start / BLOCK < text.len() / BLOCK {
            assert!(near_boundary, "record {i} crosses a block boundary");
            straddlers += 1;
        }
        expected.push(record);
    }
    assert_eq!(straddlers, 3);
    let small: Vec<Vec<String>> = (1_000_000..1_000_050)
        .map(|i| multi_line_record(i, false))
        .collect();
    let mut small_text = String::from("id,\"the\nnote\",pad\r\n");
    for r in &small {
        small_text.push_str(&csv_line(r));
        small_text.push_str("\r\n");
    }
    expected.extend(small);

    let dir = tempfile::tempdir().unwrap();
    let hdfs_dir = unique("csv-multi-line");
    h.cli(&["fs", "-mkdir", "-p", &hdfs_dir]);
    for (name, body) in [("big.csv", &text), ("small.csv", &small_text)] {
        let local = dir.path().join(name);
        std::fs::write(&local, body).unwrap();
        let to = format!("{hdfs_dir}/{name}");
        h.cli(&[
            "fs",
            "-D",
            "dfs.blocksize=1048576",
            "-put",
            local.to_str().unwrap(),
            &to,
        ]);
    }

    let source = || {
        CsvSource::new(h.uri(&hdfs_dir))
            .with_multi_line(true)
            .with_header(true)
            .with_field_count(3)
    };
    let splits = source().splits(3).unwrap();
    assert_eq!(splits.len(), 2, "a split per file: {splits:?}");
    assert!(splits.iter().all(|s| !s.hosts.is_empty()), "{splits:?}");
    assert_eq!(splits[0].end, text.len() as u64);
    expected.sort();
    for p in [1, 3] {
        let env = StreamEnv::local();
        env.set_parallelism(p);
        let records = env.from_source(source()).collect();
        env.execute("read multi-line csv from hdfs").unwrap();
        let mut got = records.take();
        got.sort();
        assert_eq!(got.len(), expected.len(), "record count at parallelism {p}");
        assert!(got == expected, "records differ at parallelism {p}");
    }

    // A line at a time, the first quoted line break fails the job, naming file, line and option.
    let env = StreamEnv::local();
    let _ = env
        .from_source(CsvSource::new(h.uri(&format!("{hdfs_dir}/big.csv"))))
        .collect();
    let e = env.execute("line-per-record csv").unwrap_err().to_string();
    assert!(
        e.contains("big.csv") && e.contains("line 1 (byte offset 0)"),
        "{e}"
    );
    assert!(e.contains("with_multi_line"), "{e}");
}
