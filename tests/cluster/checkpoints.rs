//! Fault tolerance on a multi-process cluster: checkpoints, exactly-once file output across
//! TaskManager kills, stop with savepoint and restore at another parallelism.

use super::text;
use spate_e2e::cluster::{job_id_of, Cluster};
use spate_e2e::{binary, committed_lines};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use spate_e2e::{assert_same_event_windows_output as assert_same_output, write_events};
use spate_e2e::{event_windows_reference as batch_reference, EVENTS_BOUND_MS as BOUND_MS};

fn checkpoint_props(dir: &Path) -> Vec<String> {
    vec![
        "-D".into(),
        "execution.runtime-mode=STREAMING".into(),
        "-D".into(),
        "execution.checkpointing.interval=500ms".into(),
        "-D".into(),
        format!("state.checkpoints.dir={}", dir.join("checkpoints").display()),
    ]
}

fn running(cluster: &Cluster, id: &str) -> bool {
    let (_, body) = cluster.get(&format!("/jobs/{id}"));
    body.contains("\"state\":\"RUNNING\"")
}

fn number_after(text: &str, key: &str) -> Option<u64> {
    text.split(key).nth(1)?.split([',', '}']).next()?.parse().ok()
}

fn restarts(cluster: &Cluster, id: &str) -> u64 {
    let (_, body) = cluster.get(&format!("/jobs/{id}"));
    number_after(&body, "\"restarts\":").unwrap_or(0)
}

/// Whether the job of a `GET /jobs/{id}` answer runs with every subtask of every vertex running.
fn all_running(body: &str) -> bool {
    body.contains("\"state\":\"RUNNING\"")
        && body.split("\"tasks\":{").skip(1).all(|t| {
            let t = t.split('}').next().unwrap_or("");
            number_after(t, "\"total\":").is_some()
                && number_after(t, "\"total\":") == number_after(t, "\"running\":")
        })
}

fn completed_checkpoints(cluster: &Cluster, id: &str) -> u64 {
    let (_, body) = cluster.get(&format!("/jobs/{id}/checkpoints"));
    body.split("\"completed\":")
        .nth(1)
        .and_then(|s| s.split([',', '}']).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Submits `event_windows` (p=2, 3000 events/s, checkpoints every 500 ms) detached; its job id.
fn submit_checkpointed_windows(cluster: &Cluster, input: &Path, out: &Path) -> String {
    let props = checkpoint_props(cluster.dir.path());
    let mut args: Vec<&str> = props.iter().map(String::as_str).collect();
    args.push("--detached");
    let run = cluster.run(
        &args,
        &binary("examples/event_windows"),
        &[
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "-p",
            "2",
            "--rate",
            "3000",
            "--out-of-orderness-ms",
            BOUND_MS,
        ],
    );
    assert!(run.status.success(), "{}\n{}", text(&run), cluster.logs());
    job_id_of(&String::from_utf8_lossy(&run.stdout))
}

/// Waits until job `id` has completed `n` checkpoints (at most a minute).
fn wait_for_checkpoints(cluster: &Cluster, id: &str, n: u64) {
    let start = Instant::now();
    while completed_checkpoints(cluster, id) < n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no checkpoints\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn killing_taskmanagers_during_a_checkpointed_streaming_job_loses_and_duplicates_nothing() {
    let mut cluster = Cluster::start_with(
        3,
        2,
        &[
            "restart-strategy.type=fixed-delay",
            "restart-strategy.fixed-delay.attempts=50",
            "restart-strategy.fixed-delay.delay=200ms",
        ],
    );
    let input = cluster.dir.path().join("events.csv");
    write_events(&input, 90_000);
    let reference = cluster.dir.path().join("reference");
    batch_reference(&input, &reference);

    let out = cluster.dir.path().join("out");
    let id = submit_checkpointed_windows(&cluster, &input, &out);

    // Five kill -9 of a TaskManager at different moments, each after at least one new
    // checkpoint completed, a replacement started each time.
    let mut kills = 0;
    let mut seen = 0;
    let start = Instant::now();
    let mut victim = 0usize;
    while kills < 5 {
        assert!(start.elapsed() < Duration::from_secs(240), "{}", cluster.logs());
        let (_, body) = cluster.get(&format!("/jobs/{id}"));
        assert!(
            !body.contains("\"state\":\"FAILED\""),
            "{body}\n{}",
            cluster.logs()
        );
        if body.contains("\"state\":\"FINISHED\"") {
            break;
        }
        let done = completed_checkpoints(&cluster, &id);
        if running(&cluster, &id) && done > seen {
            seen = done;
            victim = (victim + 1) % cluster.taskmanagers.len();
            let restarts_before = restarts(&cluster, &id);
            let tm = &mut cluster.taskmanagers[victim];
            if tm.try_wait().unwrap().is_none() {
                Command::new("kill")
                    .args(["-9", &tm.id().to_string()])
                    .status()
                    .unwrap();
                let killed = Instant::now();
                let _ = tm.wait();
                cluster.add_taskmanager(2);
                // Time from the kill until the job runs again (restarted, every subtask running).
                // A TaskManager without subtasks of the job does not restart it: not counted.
                loop {
                    let (_, body) = cluster.get(&format!("/jobs/{id}"));
                    if body.contains("\"state\":\"FINISHED\"") {
                        break;
                    }
                    let restarted = restarts(&cluster, &id) > restarts_before;
                    if restarted && all_running(&body) {
                        kills += 1;
                        eprintln!(
                            "kill {kills}: the job runs again {} ms after the kill",
                            killed.elapsed().as_millis()
                        );
                        break;
                    }
                    if !restarted && killed.elapsed() > Duration::from_secs(5) {
                        break;
                    }
                    assert!(
                        killed.elapsed() < Duration::from_secs(60),
                        "{body}\n{}",
                        cluster.logs()
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
                std::thread::sleep(Duration::from_millis(200 * kills as u64));
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(kills, 5, "the job ended before five kills: make the input longer");
    let state = cluster.wait_for_state(&id, &["FINISHED", "FAILED", "CANCELED"], Duration::from_secs(300));
    let (_, body) = cluster.get(&format!("/jobs/{id}"));
    assert_eq!(state, "FINISHED", "{body}\n{}", cluster.logs());
    assert_same_output(&reference, &out);
}

#[test]
fn stop_with_savepoint_and_restore_at_another_parallelism() {
    let cluster = Cluster::start(3, 1);
    let input = cluster.dir.path().join("events.csv");
    write_events(&input, 24_000);
    let reference = cluster.dir.path().join("reference");
    batch_reference(&input, &reference);
    let out = cluster.dir.path().join("out");
    let props = checkpoint_props(cluster.dir.path());
    let job = binary("examples/event_windows");
    let savepoints = cluster.dir.path().join("savepoints");

    // p=1, stopped with a savepoint; then p=3 from it, stopped again; then p=2 to the end.
    let mut from: Option<String> = None;
    for (i, p) in ["1", "3", "2"].iter().enumerate() {
        let mut args: Vec<&str> = props.iter().map(String::as_str).collect();
        let last = i == 2;
        if !last {
            args.push("--detached");
        }
        if let Some(f) = &from {
            args.extend(["--from-savepoint", f.as_str()]);
        }
        let run = cluster.run(
            &args,
            &job,
            &[
                "--input",
                input.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
                "-p",
                p,
                "--rate",
                "3000",
                "--out-of-orderness-ms",
                BOUND_MS,
            ],
        );
        assert!(
            run.status.success(),
            "run {i}: {}\n{}",
            text(&run),
            cluster.logs()
        );
        if last {
            break;
        }
        let id = job_id_of(&String::from_utf8_lossy(&run.stdout));
        wait_for_checkpoints(&cluster, &id, 2);
        let stop = Command::new(binary("spate"))
            .args([
                "stop",
                "-m",
                &cluster.rest,
                "--savepoint-path",
                savepoints.to_str().unwrap(),
                &id,
            ])
            .output()
            .unwrap();
        assert!(stop.status.success(), "{}\n{}", text(&stop), cluster.logs());
        let said = String::from_utf8_lossy(&stop.stdout).to_string();
        let path = said
            .split("Path: ")
            .nth(1)
            .and_then(|s| s.lines().next())
            .unwrap_or_else(|| panic!("no savepoint path in {said}"))
            .to_string();
        cluster.wait_for_state(&id, &["FINISHED", "FAILED", "CANCELED"], Duration::from_secs(60));
        from = Some(path);
    }
    assert_same_output(&reference, &out);
}

#[test]
fn a_corrupt_latest_checkpoint_falls_back_to_the_previous_one() {
    let cluster = Cluster::start(2, 1);
    let input = cluster.dir.path().join("events.csv");
    write_events(&input, 12_000);
    let reference = cluster.dir.path().join("reference");
    batch_reference(&input, &reference);
    let out = cluster.dir.path().join("out");
    let props = checkpoint_props(cluster.dir.path());
    let job = binary("examples/event_windows");
    let job_args = |rate: &'static str| {
        vec![
            "--input".to_string(),
            input.display().to_string(),
            "--output".into(),
            out.display().to_string(),
            "-p".into(),
            "2".into(),
            "--rate".into(),
            rate.into(),
            "--out-of-orderness-ms".into(),
            BOUND_MS.into(),
        ]
    };
    let mut args: Vec<&str> = props.iter().map(String::as_str).collect();
    args.push("--detached");
    let first = job_args("2000");
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let run = cluster.run(&args, &job, &first);
    assert!(run.status.success(), "{}\n{}", text(&run), cluster.logs());
    let id = job_id_of(&String::from_utf8_lossy(&run.stdout));
    wait_for_checkpoints(&cluster, &id, 3);
    // Cancelled jobs keep their checkpoints.
    let cancel = Command::new(binary("spate"))
        .args(["cancel", "-m", &cluster.rest, &id])
        .output()
        .unwrap();
    assert!(cancel.status.success(), "{}", text(&cancel));
    cluster.wait_for_state(&id, &["CANCELED", "FAILED", "FINISHED"], Duration::from_secs(60));

    // Corrupt every state file of the newest complete checkpoint.
    let job_dir = cluster.dir.path().join("checkpoints").join(&id);
    let mut chks: Vec<(u64, std::path::PathBuf)> = std::fs::read_dir(&job_dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let n = e
                .file_name()
                .to_string_lossy()
                .strip_prefix("chk-")?
                .parse()
                .ok()?;
            e.path().join("_metadata").exists().then(|| (n, e.path()))
        })
        .collect();
    chks.sort();
    assert!(chks.len() >= 2, "two complete checkpoints are retained: {chks:?}");
    let (newest, newest_dir) = chks.last().unwrap().clone();
    let mut corrupted = 0;
    for f in std::fs::read_dir(&newest_dir).unwrap().flatten() {
        if f.file_name().to_string_lossy().starts_with("task-") {
            let mut bytes = std::fs::read(f.path()).unwrap();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x5a;
            std::fs::write(f.path(), bytes).unwrap();
            corrupted += 1;
        }
    }
    assert!(corrupted > 0, "checkpoint {newest} has no state files");

    // Resuming from the job's checkpoint directory skips the corrupt one, says so, and finishes.
    let mut args: Vec<&str> = props.iter().map(String::as_str).collect();
    let from = job_dir.display().to_string();
    args.extend(["--from-savepoint", from.as_str()]);
    let second = job_args("20000");
    let second: Vec<&str> = second.iter().map(String::as_str).collect();
    let run = cluster.run(&args, &job, &second);
    assert!(run.status.success(), "{}\n{}", text(&run), cluster.logs());
    let logs = cluster.logs();
    assert!(
        logs.contains(&format!("chk-{newest} cannot be used, trying an older one")),
        "no fallback logged:\n{logs}"
    );
    // Nothing is lost. (The corrupt checkpoint's output was already committed, so falling back
    // past it repeats some of it: exactly-once holds only down to the last usable checkpoint.)
    for sub in ["tumbling", "sessions"] {
        let have: std::collections::BTreeSet<String> = committed_lines(&out.join(sub)).into_iter().collect();
        let want: std::collections::BTreeSet<String> =
            committed_lines(&reference.join(sub)).into_iter().collect();
        assert_eq!(
            want, have,
            "{sub}: the restored run's output lines differ from the reference"
        );
    }
}

#[test]
fn a_new_jobmanager_recovers_the_running_jobs_from_their_latest_checkpoints() {
    let ha = tempfile::tempdir().unwrap();
    let store = format!(
        "high-availability.storageDir={}",
        ha.path().join("jobs").display()
    );
    let mut cluster = Cluster::start_with(2, 2, &[store.as_str()]);
    let input = cluster.dir.path().join("events.csv");
    write_events(&input, 60_000);
    let reference = cluster.dir.path().join("reference");
    batch_reference(&input, &reference);

    // A job that ended is not run again by the next JobManager.
    let small = cluster.dir.path().join("small.csv");
    write_events(&small, 100);
    let small_out = cluster.dir.path().join("small-out");
    let done = cluster.run(
        &["-D", "execution.runtime-mode=BATCH"],
        &binary("examples/event_windows"),
        &[
            "--input",
            small.to_str().unwrap(),
            "--output",
            small_out.to_str().unwrap(),
        ],
    );
    assert!(done.status.success(), "{}\n{}", text(&done), cluster.logs());

    let out = cluster.dir.path().join("out");
    let id = submit_checkpointed_windows(&cluster, &input, &out);
    wait_for_checkpoints(&cluster, &id, 3);
    let (_, before) = cluster.get("/jobs/overview");
    assert!(before.contains("FINISHED"), "{before}");

    // kill -9 of the JobManager; another one on the same store takes over.
    cluster.replace_jobmanager();
    cluster.wait_for_taskmanagers(2);
    let state = cluster.wait_for_state(&id, &["FINISHED", "FAILED", "CANCELED"], Duration::from_secs(240));
    let (_, body) = cluster.get(&format!("/jobs/{id}"));
    assert_eq!(state, "FINISHED", "{body}\n{}", cluster.logs());
    let (_, jobs) = cluster.get("/jobs/overview");
    assert_eq!(
        jobs.matches("\"jid\"").count(),
        1,
        "only the running job is recovered: {jobs}"
    );
    let log = std::fs::read_to_string(cluster.dir.path().join("jobmanager-2.log")).unwrap();
    assert!(
        log.contains("recovered a job from the job store"),
        "{}",
        cluster.logs()
    );
    let restored = log
        .lines()
        .find(|l| l.contains("restoring from"))
        .unwrap_or_else(|| panic!("the recovered job did not start from a checkpoint:\n{log}"));
    assert!(restored.contains(&id), "{restored}");
    assert_same_output(&reference, &out);
    // Ended jobs leave the store.
    let left: Vec<_> = std::fs::read_dir(ha.path().join("jobs"))
        .unwrap()
        .flatten()
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
