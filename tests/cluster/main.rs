//! End-to-end tests of the distributed runtime: a real JobManager and TaskManagers, each its own
//! process, on loopback.
#![allow(clippy::unwrap_used)]

use spate_e2e::cluster::{http, job_id_of, Cluster};
use spate_e2e::{binary, read_wordcount_output, reference_wordcount, write_corpus};
use std::io::Write as _;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

fn text(o: &std::process::Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn wordcount_on_two_taskmanagers_equals_the_embedded_run() {
    let cluster = Cluster::start(2, 1);
    let input = cluster.dir.path().join("in.txt");
    write_corpus(&input, 3_000_000, 21).unwrap();
    let out = cluster.dir.path().join("out");
    let run = cluster.run(
        &["-p", "2"],
        &binary("examples/wordcount"),
        &[
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}\n{}", text(&run), cluster.logs());
    assert_eq!(read_wordcount_output(&out), reference_wordcount(&input));

    // The job is listed as finished, with its vertices and records.
    let (status, body) = cluster.get("/jobs/overview");
    assert_eq!(status, 200);
    assert!(body.contains("\"state\":\"FINISHED\""), "{body}");
    let id = body
        .split("\"jid\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let (_, details) = cluster.get(&format!("/jobs/{id}"));
    assert!(details.contains("\"read-records\""), "{details}");
    // Records crossed the network between the two TaskManagers.
    let bytes: u64 = details
        .split("\"read-bytes\":")
        .skip(1)
        .map(|s| s.split([',', '}']).next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(bytes > 0, "no bytes crossed the network: {details}");
    // spate list (REST) shows it.
    let list = Command::new(binary("spate"))
        .args(["list", "-m", &cluster.rest])
        .output()
        .unwrap();
    assert!(list.status.success(), "{}", text(&list));
    assert!(
        String::from_utf8_lossy(&list.stdout).contains(id),
        "{}",
        text(&list)
    );
}

#[test]
fn streaming_job_on_the_cluster_equals_the_embedded_run() {
    let cluster = Cluster::start(2, 2);
    let input = cluster.dir.path().join("events.csv");
    let mut f = std::fs::File::create(&input).unwrap();
    // user,timestamp,value — in order per user, with some out-of-orderness across users.
    for i in 0..20_000u64 {
        let user = format!("u{}", i % 37);
        let ts = i * 7 + (i % 5) * 3;
        writeln!(f, "{user},{ts},{}", i % 100).unwrap();
    }
    drop(f);
    let embedded = cluster.dir.path().join("embedded");
    let distributed = cluster.dir.path().join("distributed");
    let job = binary("examples/event_windows");
    let local = Command::new(&job)
        .args([
            "--input",
            input.to_str().unwrap(),
            "--output",
            embedded.to_str().unwrap(),
            "-p",
            "3",
        ])
        .output()
        .unwrap();
    assert!(local.status.success(), "{}", text(&local));
    let run = cluster.run(
        &["-D", "execution.runtime-mode=STREAMING"],
        &job,
        &[
            "--input",
            input.to_str().unwrap(),
            "--output",
            distributed.to_str().unwrap(),
            "-p",
            "3",
        ],
    );
    assert!(run.status.success(), "{}\n{}", text(&run), cluster.logs());
    for sub in ["tumbling", "sessions", "late"] {
        assert_eq!(
            sorted_lines(&embedded.join(sub)),
            sorted_lines(&distributed.join(sub)),
            "{sub} differs"
        );
    }
    assert!(!sorted_lines(&distributed.join("tumbling")).is_empty());
}

fn sorted_lines(dir: &std::path::Path) -> Vec<String> {
    let mut lines = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        lines.extend(text.lines().map(str::to_string));
    }
    lines.sort();
    lines
}

#[test]
fn killing_a_taskmanager_during_a_batch_job_still_gives_the_right_result() {
    let mut cluster = Cluster::start_with(
        2,
        1,
        &[
            "restart-strategy.type=fixed-delay",
            "restart-strategy.fixed-delay.delay=200ms",
        ],
    );
    let input = cluster.dir.path().join("in.txt");
    write_corpus(&input, 40_000_000, 8).unwrap();
    let out = cluster.dir.path().join("out");
    let run = cluster.run(
        &["-p", "2", "--detached"],
        &binary("examples/wordcount"),
        &[
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}\n{}", text(&run), cluster.logs());
    let id = job_id_of(&String::from_utf8_lossy(&run.stdout));
    // Wait until subtasks run, then kill -9 one TaskManager and start a replacement.
    let start = Instant::now();
    loop {
        let (_, body) = cluster.get(&format!("/jobs/{id}"));
        if body.contains("\"running\":1") || body.contains("\"running\":2") {
            break;
        }
        assert!(
            !body.contains("FINISHED"),
            "the job ended before the kill: {body}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{body}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let victim = &mut cluster.taskmanagers[0];
    Command::new("kill")
        .args(["-9", &victim.id().to_string()])
        .status()
        .unwrap();
    let _ = victim.wait();
    cluster.add_taskmanager(1);
    let state = cluster.wait_for_state(&id, &["FINISHED", "FAILED", "CANCELED"], Duration::from_secs(240));
    let (_, body) = cluster.get(&format!("/jobs/{id}"));
    assert_eq!(state, "FINISHED", "{body}\n{}", cluster.logs());
    assert!(
        !body.contains("\"restarts\":0"),
        "the job did not restart: {body}"
    );
    assert_eq!(read_wordcount_output(&out), reference_wordcount(&input));
}

#[test]
fn garbage_on_the_rpc_and_data_ports_does_not_disturb_a_running_job() {
    let cluster = Cluster::start(2, 1);
    let input = cluster.dir.path().join("in.txt");
    write_corpus(&input, 2_000_000, 4).unwrap();
    let out = cluster.dir.path().join("out");
    // A streaming job that runs for a while (throttled source).
    let run = cluster.run(
        &["-p", "2", "--detached"],
        &binary("examples/streaming_wordcount"),
        &["--records", "3000", "--rate", "1000"],
    );
    assert!(run.status.success(), "{}\n{}", text(&run), cluster.logs());
    let id = job_id_of(&String::from_utf8_lossy(&run.stdout));
    cluster.wait_for_state(&id, &["RUNNING"], Duration::from_secs(60));
    // Data ports of the job's workers, from their logs.
    std::thread::sleep(Duration::from_millis(500));
    let data_ports = cluster.data_addresses();
    assert!(!data_ports.is_empty(), "{}", cluster.logs());
    let mut targets = vec![cluster.rpc.clone(), cluster.rest.clone()];
    targets.extend(data_ports);
    let mut seed = 0x1234_5678_u64;
    for t in &targets {
        for round in 0..5 {
            let Ok(mut s) = TcpStream::connect(t) else {
                continue;
            };
            let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
            let mut junk = vec![0u8; 64 + round * 500];
            for b in &mut junk {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            if round == 0 {
                // A truncated, plausible-looking frame: the data plane's magic and half a handshake.
                junk = b"SPDP\x01\x00\x00".to_vec();
            }
            let _ = s.write_all(&junk);
        }
    }
    // And an RPC call with a wrong secret is refused.
    let bad = Command::new(binary("spate"))
        .args(["run", "-m", &cluster.rpc, "-D"])
        .arg(format!("security.cluster.secret={}", "ab".repeat(32)))
        .arg(binary("examples/streaming_wordcount"))
        .args(["--records", "10"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("secret"),
        "{}",
        text(&bad)
    );
    let state = cluster.wait_for_state(&id, &["FINISHED", "FAILED", "CANCELED"], Duration::from_secs(120));
    assert_eq!(state, "FINISHED", "{}", cluster.logs());
    let (_, body) = cluster.get(&format!("/jobs/{id}"));
    assert!(body.contains("\"restarts\":0"), "{body}");
    let _ = out;
}

#[test]
fn detached_jobs_are_listed_and_cancelled_and_the_dashboard_draws_them() {
    let cluster = Cluster::start(2, 2);
    let run = cluster.run(
        &["-p", "2", "--detached"],
        &binary("examples/streaming_wordcount"),
        &["--rate", "200"],
    );
    assert!(run.status.success(), "{}\n{}", text(&run), cluster.logs());
    let id = job_id_of(&String::from_utf8_lossy(&run.stdout));
    cluster.wait_for_state(&id, &["RUNNING"], Duration::from_secs(60));
    let list = Command::new(binary("spate"))
        .args(["list", "--running", "-m", &cluster.rest])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&list.stdout).contains(&id),
        "{}",
        text(&list)
    );

    // The dashboard in a real headless browser shows the running job and its graph.
    if let Some(chromium) = spate_cluster::rest::browser::chromium_for_tests() {
        std::thread::sleep(Duration::from_secs(2));
        let url = format!("http://{}/", cluster.rest);
        let dom = chromium.dump_dom(&url).unwrap();
        assert!(dom.contains(&format!("data-jid=\"{id}\"")), "{dom}");
        assert!(dom.contains("id=\"job-graph\""), "{dom}");
        assert!(dom.matches("class=\"vertex\"").count() >= 2, "{dom}");
        let shot = spate_e2e::build_dir().join("dashboard-cluster.png");
        chromium.screenshot(&url, &shot, 1400, 900).unwrap();
        assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
        eprintln!("dashboard screenshot: {}", shot.display());
    }

    let cancel = Command::new(binary("spate"))
        .args(["cancel", "-m", &cluster.rest, &id])
        .output()
        .unwrap();
    assert!(cancel.status.success(), "{}", text(&cancel));
    let state = cluster.wait_for_state(&id, &["CANCELED", "FAILED", "FINISHED"], Duration::from_secs(60));
    assert_eq!(state, "CANCELED", "{}", cluster.logs());
    // Cancelling again is a clear error.
    let again = Command::new(binary("spate"))
        .args(["cancel", "-m", &cluster.rest, &id])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already ended"),
        "{}",
        text(&again)
    );
    // The REST API answers like Flink's.
    let (_, overview) = http(&cluster.rest, "GET", "/overview");
    assert!(overview.contains("\"slots-total\":4"), "{overview}");
    assert!(overview.contains("\"jobs-cancelled\":1"), "{overview}");
}

#[test]
fn a_failing_job_reports_its_error_and_exits_non_zero() {
    let cluster = Cluster::start_with(1, 1, &["restart-strategy.type=none"]);
    let input = cluster.dir.path().join("bad.csv");
    std::fs::write(&input, "u1,10,5\nnot a line\n").unwrap();
    let out = cluster.dir.path().join("out");
    let run = cluster.run(
        &["-p", "1"],
        &binary("examples/event_windows"),
        &[
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert!(!run.status.success(), "{}", text(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("line 2"), "{}", text(&run));
}

#[test]
fn run_against_a_missing_jobmanager_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "00".repeat(32)).unwrap();
    let out = Command::new(binary("spate"))
        .args(["run", "-m", "127.0.0.1:1", "-D"])
        .arg(format!("security.cluster.secret-file={}", secret.display()))
        .arg(binary("examples/streaming_wordcount"))
        .args(["--records", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot reach the JobManager at 127.0.0.1:1"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_failed_batch_task_runs_again_alone_and_the_result_is_exact() {
    let cluster = Cluster::start(2, 1);
    let input = cluster.dir.path().join("in.txt");
    write_corpus(&input, 4_000_000, 13).unwrap();
    let out = cluster.dir.path().join("out");
    let markers = cluster.dir.path().join("markers");
    std::fs::create_dir(&markers).unwrap();
    let run = cluster.run(
        &["-p", "2", "-D", "execution.runtime-mode=BATCH"],
        &binary("fail_once"),
        &[
            input.to_str().unwrap(),
            out.to_str().unwrap(),
            markers.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}\n{}", text(&run), cluster.logs());
    // The failure happened, and the failing step ran three times in all: once per subtask, plus
    // the failed subtask again — not the whole job again.
    assert!(markers.join("failed").exists());
    let runs = std::fs::read_to_string(markers.join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 3, "{runs}\n{}", cluster.logs());
    // What the failed run had sent downstream was voided: the counts are exact.
    assert_eq!(read_wordcount_output(&out), reference_wordcount(&input));
    let (_, jobs) = cluster.get("/jobs/overview");
    let id = jobs
        .split("\"jid\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let (_, body) = cluster.get(&format!("/jobs/{id}"));
    assert!(body.contains("\"restarts\":1"), "{body}");
    // The failure stays in the job's exceptions history.
    let (status, exceptions) = cluster.get(&format!("/jobs/{id}/exceptions"));
    assert_eq!(status, 200);
    assert!(
        exceptions.contains("injected failure after 5000 records"),
        "{exceptions}"
    );
}

#[test]
fn a_crashing_job_takes_down_neither_its_taskmanagers_nor_other_jobs() {
    let cluster = Cluster::start(2, 2);
    // Two jobs at once: a healthy one, and one whose code aborts its worker process.
    let healthy = cluster.run(
        &["-p", "2", "--detached"],
        &binary("examples/streaming_wordcount"),
        &["--records", "4000", "--rate", "800"],
    );
    assert!(healthy.status.success(), "{}\n{}", text(&healthy), cluster.logs());
    let healthy = job_id_of(&String::from_utf8_lossy(&healthy.stdout));
    cluster.wait_for_state(&healthy, &["RUNNING"], Duration::from_secs(60));
    let crash = cluster.run(
        &["-p", "2", "-D", "restart-strategy.type=none"],
        &binary("crash_job"),
        &[],
    );
    assert!(!crash.status.success(), "{}", text(&crash));
    let stderr = String::from_utf8_lossy(&crash.stderr);
    assert!(
        stderr.contains("worker") && stderr.contains("exited"),
        "{}",
        text(&crash)
    );
    // Both TaskManagers are still there, and the healthy job finishes untouched.
    let (_, overview) = cluster.get("/overview");
    assert!(overview.contains("\"taskmanagers\":2"), "{overview}");
    let state = cluster.wait_for_state(
        &healthy,
        &["FINISHED", "FAILED", "CANCELED"],
        Duration::from_secs(120),
    );
    assert_eq!(state, "FINISHED", "{}", cluster.logs());
    let (_, body) = cluster.get(&format!("/jobs/{healthy}"));
    assert!(body.contains("\"restarts\":0"), "{body}");
}

#[test]
fn a_taskmanager_that_stops_heartbeating_is_lost_and_registers_again_when_it_wakes_up() {
    let cluster = Cluster::start(2, 1);
    let pid = cluster.taskmanagers[0].id().to_string();
    Command::new("kill").args(["-STOP", &pid]).status().unwrap();
    // heartbeat.timeout is 5 s in the fixture.
    let start = Instant::now();
    loop {
        let (_, overview) = cluster.get("/overview");
        if overview.contains("\"taskmanagers\":1") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{overview}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    // The TaskManager learns that the JobManager forgot it and registers again.
    cluster.wait_for_taskmanagers(2);
    assert!(cluster.logs().contains("no heartbeat"), "{}", cluster.logs());
}
mod checkpoints;

#[test]
fn a_job_binary_of_another_cluster_protocol_is_refused_with_a_clear_error() {
    let cluster = Cluster::start(1, 1);
    let secret = std::fs::read_to_string(cluster.dir.path().join("secret")).unwrap();
    let secret = spate_cluster::net::Secret::from_hex(secret.trim()).unwrap();
    let binary = binary("examples/streaming_wordcount");
    let rt = spate_cluster::client::runtime().unwrap();
    let error = rt.block_on(async {
        let mut c = spate_cluster::client::connect(&cluster.rpc, &secret)
            .await
            .unwrap();
        let header = spate_cluster::pb::SubmitHeader {
            name: "old".into(),
            job_graph_json: "{}".into(),
            mode: "STREAMING".into(),
            protocol: spate_cluster::PROTOCOL + 1,
            ..Default::default()
        };
        spate_cluster::client::submit(&mut c, header, &binary)
            .await
            .unwrap_err()
    });
    let error = format!("{error:#}");
    assert!(
        error.contains("speaks cluster protocol") && error.contains("build the job against"),
        "{error}"
    );
    let (_, jobs) = cluster.get("/jobs/overview");
    assert!(!jobs.contains("\"jid\""), "{jobs}");
}
