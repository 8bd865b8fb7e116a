//! Checkpoints in HDFS and exactly-once output to HDFS: a streaming job checkpoints to
//! `hdfs://`, is cancelled, and resumes from its checkpoint directory; the committed output is
//! the input, every line exactly once.

use crate::fixture::{hadoop, shared_input, unique};
use spate::StreamEnv;
use spate_connectors::hdfs::{FsTextSink, HdfsTextSource};
use spate_connectors::text_sink::LineFormat;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn same_line() -> LineFormat<String> {
    Arc::new(|l: &String, line: &mut String| line.push_str(l))
}

/// A streaming copy of the input, slowed down so that it takes several checkpoints.
fn copy_job(src: &str, out: &str, checkpoints: &str, restore: Option<&str>) -> StreamEnv {
    let env = StreamEnv::local();
    env.set_parallelism(2);
    env.set_config("execution.runtime-mode", "STREAMING").unwrap();
    env.set_config("execution.checkpointing.interval", "200ms")
        .unwrap();
    env.set_config("state.checkpoints.dir", checkpoints).unwrap();
    if let Some(r) = restore {
        env.set_config("execution.savepoint.path", r).unwrap();
    }
    env.from_source(HdfsTextSource::new(src))
        .map(|l: String| {
            std::thread::sleep(Duration::from_micros(100));
            l
        })
        .sink_to(FsTextSink::new(out, same_line()));
    env
}

fn committed_lines(h: &crate::fixture::Hadoop, dir: &str) -> Vec<String> {
    let (fs, uri) = spate_fs::resolve(&h.uri(dir)).unwrap();
    let mut lines = Vec::new();
    for f in fs.list_dir(&uri).unwrap() {
        let name = f.uri.file_name().to_string();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut fs.open(&f.uri, 0).unwrap(), &mut text).unwrap();
        lines.extend(text.lines().map(str::to_string));
    }
    lines.sort();
    lines
}

#[test]
fn a_job_resumed_from_its_hdfs_checkpoints_writes_every_line_once_to_hdfs() {
    let Some(h) = hadoop("checkpoints_hdfs") else {
        return;
    };
    let (local, path) = shared_input(h);
    let out = unique("ckpt-out");
    let checkpoints = h.uri(&unique("ckpt"));
    let src = h.uri(path);

    // First run: cancelled once a few checkpoints completed in HDFS.
    let env = copy_job(&src, &h.uri(&out), &checkpoints, None);
    let handle = env.execute_async("copy with checkpoints").unwrap();
    let job_dir = format!("{checkpoints}/{}", handle.job_id);
    let (fs, job_uri) = spate_fs::resolve(&job_dir).unwrap();
    let start = Instant::now();
    loop {
        let complete = fs
            .list_dir(&job_uri)
            .map(|d| {
                d.iter()
                    .filter(|c| fs.status(&c.uri.join("_metadata")).is_ok())
                    .count()
            })
            .unwrap_or(0);
        if complete >= 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint in {job_dir}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    handle.cancel();
    assert!(handle.wait().is_err(), "the job was cancelled");
    let partial = committed_lines(h, &out);

    // Second run: from the job's checkpoint directory to the end.
    let env = copy_job(&src, &h.uri(&out), &checkpoints, Some(&job_dir));
    env.execute("copy resumed").unwrap();
    let mut want: Vec<String> = std::fs::read_to_string(local)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    want.sort();
    let got = committed_lines(h, &out);
    assert!(partial.len() < want.len(), "the first run was not interrupted");
    assert_eq!(got.len(), want.len(), "lines lost or repeated");
    assert!(got == want, "the committed output differs from the input");
}
