//! `event_windows` with checkpoints: killed (`kill -9`) once checkpoints committed some output,
//! then restored from the latest at another parallelism, its committed output equals an
//! undisturbed run's exactly.

#![allow(clippy::unwrap_used)] // test code: a failed file operation fails the test

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The example binary: `cargo test -p spate-examples` builds it next to this test's directory
/// (with `--test` alone it is not rebuilt: build the examples first).
fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let debug = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let binary = debug.join("examples").join("event_windows");
    assert!(
        binary.exists(),
        "{} is not built (cargo build -p spate-examples --examples)",
        binary.display()
    );
    binary
}

/// Input with records later than the default out-of-orderness (so `late/` is not empty).
fn write_events(path: &Path, n: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..n {
        let ts = i * 5 + (i % 7) * 40;
        writeln!(f, "k{},{ts},{}", (i * 7919) % 13, i % 97).unwrap();
    }
}

/// The lines of the visible files of `dir`, sorted.
fn committed_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with('.') && !name.starts_with('_') {
            lines.extend(
                std::fs::read_to_string(e.path())
                    .unwrap()
                    .lines()
                    .map(String::from),
            );
        }
    }
    lines.sort();
    lines
}

fn hidden_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// The newest complete checkpoint (with its metadata) under `dir`.
fn latest_checkpoint(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<(u64, PathBuf)> = Vec::new();
    for job in std::fs::read_dir(dir).ok()?.flatten() {
        for chk in std::fs::read_dir(job.path()).ok()?.flatten() {
            let name = chk.file_name().to_string_lossy().to_string();
            let Some(n) = name.strip_prefix("chk-").and_then(|n| n.parse().ok()) else {
                continue;
            };
            if chk.path().join("_metadata").exists() {
                found.push((n, chk.path()));
            }
        }
    }
    found.into_iter().max().map(|(_, p)| p)
}

fn run(args: &[&str], props: &str) -> Command {
    let mut c = Command::new(binary());
    c.args(args)
        .env("SPATE_DYNAMIC_PROPERTIES", props)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

#[test]
fn a_killed_and_restored_run_commits_exactly_the_undisturbed_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.csv");
    write_events(&input, 6_000);
    let input = input.to_str().unwrap();
    let reference = dir.path().join("reference");
    let out = dir.path().join("out");
    let checkpoints = dir.path().join("checkpoints");
    let streaming = "execution.runtime-mode=STREAMING";

    let done = run(
        &[
            "--input",
            input,
            "--output",
            reference.to_str().unwrap(),
            "-p",
            "2",
        ],
        streaming,
    )
    .output()
    .unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert!(
        !committed_lines(&reference.join("late")).is_empty(),
        "the input has late lines"
    );

    // A throttled run with checkpoints, killed once a checkpoint completed and committed windows.
    let props = format!(
        "{streaming}\nexecution.checkpointing.interval=100ms\nstate.checkpoints.dir={}",
        checkpoints.display()
    );
    let out_arg = out.to_str().unwrap();
    let mut first = run(
        &["--input", input, "--output", out_arg, "-p", "2", "--rate", "2000"],
        &props,
    )
    .spawn()
    .unwrap();
    let start = Instant::now();
    let tumbling = out.join("tumbling");
    loop {
        // Some output committed, some in progress.
        if latest_checkpoint(&checkpoints).is_some()
            && tumbling.exists()
            && !committed_lines(&tumbling).is_empty()
            && hidden_files(&tumbling).iter().any(|n| n.ends_with(".inprogress"))
        {
            break;
        }
        assert!(
            first.try_wait().unwrap().is_none(),
            "the run ended before a checkpoint"
        );
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint completed"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(first.try_wait().unwrap().is_none(), "still running when killed");
    first.kill().unwrap();
    first.wait().unwrap();
    // Files in progress when it was killed: never to be committed.
    let abandoned: Vec<(&str, String)> = ["tumbling", "sessions", "late"]
        .into_iter()
        .flat_map(|sub| {
            let names = out.join(sub).exists().then(|| hidden_files(&out.join(sub)));
            names.into_iter().flatten().filter_map(move |n| {
                let visible = n.strip_prefix('.')?.strip_suffix(".inprogress")?.to_string();
                Some((sub, visible))
            })
        })
        .collect();
    assert!(!abandoned.is_empty());
    // The newest complete checkpoint (a restore from an older one would repeat what a newer one
    // committed).
    let checkpoint = latest_checkpoint(&checkpoints).unwrap();
    let partial = committed_lines(&out.join("tumbling")).len();
    assert!(
        0 < partial && partial < committed_lines(&reference.join("tumbling")).len(),
        "killed in the middle: {partial} lines committed"
    );

    // Restored from that checkpoint at parallelism 3, without a rate.
    let restore = format!("{props}\nexecution.savepoint.path={}", checkpoint.display());
    let done = run(&["--input", input, "--output", out_arg, "-p", "3"], &restore)
        .output()
        .unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    for sub in ["tumbling", "sessions", "late"] {
        let (want, got) = (
            committed_lines(&reference.join(sub)),
            committed_lines(&out.join(sub)),
        );
        assert_eq!(
            got,
            want,
            "{sub}: committed output after a restore from {}",
            checkpoint.display()
        );
        assert!(
            hidden_files(&out.join(sub)).is_empty(),
            "{sub}: {:?}",
            hidden_files(&out.join(sub))
        );
    }
    for (sub, name) in &abandoned {
        assert!(
            !out.join(sub).join(name).exists(),
            "{sub}/{name} was in progress at the kill: it must not be committed"
        );
    }
}
