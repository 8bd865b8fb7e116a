//! Jobs on the minicluster's YARN with demand-driven TaskManager containers: a per-job word count
//! HDFS → HDFS on TaskManagers the ApplicationMaster placed on the hosts of the input blocks; a
//! TaskManager container killed during a batch job; a session running jobs one after the other,
//! two at once and a cancelled one, releasing idle TaskManagers, then killed without leaving a
//! container process behind.

use crate::fixture::{hadoop, unique, Hadoop};
use crate::locality::split_counts;
use crate::yarn_session::{get, property, spate, status_field, text, yarn_user, KillSession};
use spate_connectors::hdfs::HdfsTextSource;
use spate_e2e::{binary, read_wordcount_output, reference_wordcount, write_corpus};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;
/// Small containers: the minicluster's three NodeManagers have 4 GB each and tests share them.
const SMALL: [&str; 4] = [
    "-D",
    "jobmanager.memory.process.size=256mb",
    "-D",
    "taskmanager.memory.process.size=256mb",
];

/// `spate run -t yarn-per-job -p P EXTRA.. SMALL.. wordcount --input IN --output OUT`.
fn per_job_wordcount(p: &str, extra: &[&str], input: &str, output: &str) -> Vec<String> {
    let wordcount = binary("examples/wordcount");
    ["run", "-t", "yarn-per-job", "-p", p]
        .iter()
        .chain(extra)
        .chain(&SMALL)
        .map(|a| a.to_string())
        .chain([
            wordcount.display().to_string(),
            "--input".into(),
            input.to_string(),
            "--output".into(),
            output.to_string(),
        ])
        .collect()
}

/// The user's HDFS home exists and is theirs (the staging directory lives there).
fn home(h: &Hadoop) {
    let user = yarn_user();
    let home = format!("/user/{user}");
    h.cli(&["fs", "-mkdir", "-p", &home]);
    h.cli(&["fs", "-chown", "-R", &user, &home]);
}

/// A corpus of `mib` MiB written in `dir` and put into HDFS with 1 MiB blocks and one replica each
/// (blocks spread over the three DataNode hosts): (local path, HDFS path, blocks per host).
fn spread_input(
    h: &Hadoop,
    dir: &Path,
    name: &str,
    mib: usize,
) -> (PathBuf, String, BTreeMap<String, usize>) {
    let local = dir.join(format!("{name}.txt"));
    write_corpus(&local, mib * MIB, 13).unwrap();
    let hdfs_dir = unique(name);
    h.cli(&["fs", "-mkdir", "-p", &hdfs_dir]);
    let hdfs = format!("{hdfs_dir}/corpus.txt");
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
    let mut per_host = BTreeMap::new();
    for s in HdfsTextSource::new(h.uri(&hdfs)).splits(3).unwrap() {
        assert_eq!(s.hosts.len(), 1, "one replica: {s:?}");
        *per_host.entry(s.hosts[0].clone()).or_default() += 1;
    }
    (local, hdfs, per_host)
}

/// Word counts in the part files of an HDFS directory, read with `hdfs dfs -cat`.
fn hdfs_wordcount_output(h: &Hadoop, dir: &str) -> HashMap<String, u64> {
    let text = h.cli(&["fs", "-cat", &format!("{dir}/part-*")]);
    let mut counts = HashMap::new();
    for line in text.lines() {
        let (w, n) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("malformed line {line:?}"));
        assert!(
            counts.insert(w.to_string(), n.parse::<u64>().unwrap()).is_none(),
            "{w} twice"
        );
    }
    counts
}

/// A running `spate run -t yarn-per-job`: its stderr is read as it comes, and once the JobManager's
/// REST address shows up the hosts of its TaskManagers are collected while it runs.
struct PerJob {
    child: Child,
    stderr: Arc<Mutex<String>>,
    hosts: Arc<Mutex<BTreeSet<String>>>,
    done: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl PerJob {
    fn start(props: &Path, args: &[&str]) -> PerJob {
        let mut child = Command::new(binary("spate"))
            .args(args)
            .env("SPATE_YARN_PROPERTIES_FILE", props)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let hosts = Arc::new(Mutex::new(BTreeSet::new()));
        let done = Arc::new(AtomicBool::new(false));
        let pipe = child.stderr.take().unwrap();
        let (err, tms, stop) = (stderr.clone(), hosts.clone(), done.clone());
        let reader = named("per-job-stderr", move || {
            let mut watcher = None;
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if watcher.is_none() {
                    if let Some(rest) = rest_address(&line) {
                        let (tms, stop) = (tms.clone(), stop.clone());
                        watcher = Some(named("per-job-rest", move || watch_hosts(&rest, &tms, &stop)));
                    }
                }
                let mut e = err.lock().unwrap();
                e.push_str(&line);
                e.push('\n');
            }
            if let Some(w) = watcher {
                let _ = w.join();
            }
        });
        PerJob {
            child,
            stderr,
            hosts,
            done,
            threads: vec![reader],
        }
    }

    /// The application id and the JobManager's REST address, once the client printed them.
    fn addresses(&self) -> (String, String) {
        wait_for("the JobManager's address", Duration::from_secs(120), || {
            let e = self.stderr.lock().unwrap().clone();
            let rest = e.lines().find_map(rest_address)?;
            Some((app_of(&e), rest))
        })
    }

    /// Waits for the end: (exit status success, stdout, stderr, TaskManager hosts seen).
    fn wait(mut self) -> (bool, String, String, BTreeSet<String>) {
        let mut stdout = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        let status = self.child.wait().unwrap();
        self.done.store(true, Ordering::SeqCst);
        for t in self.threads {
            t.join().unwrap();
        }
        let stderr = self.stderr.lock().unwrap().clone();
        let hosts = self.hosts.lock().unwrap().clone();
        (status.success(), stdout, stderr, hosts)
    }
}

fn named(name: &str, f: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new().name(name.into()).spawn(f).unwrap()
}

/// `host:port` of "... REST and dashboard at http://host:port/".
fn rest_address(line: &str) -> Option<String> {
    let at = line.find("dashboard at http://")? + "dashboard at http://".len();
    Some(line[at..].trim_end_matches('/').to_string())
}

/// Collects the `host` of every TaskManager listed at `rest` until `done`.
fn watch_hosts(rest: &str, hosts: &Mutex<BTreeSet<String>>, done: &AtomicBool) {
    while !done.load(Ordering::SeqCst) {
        if let Some(body) = try_get(rest, "/taskmanagers") {
            for part in body.split("\"host\":\"").skip(1) {
                if let Some(h) = part.split('"').next() {
                    hosts.lock().unwrap().insert(h.to_string());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The body of `GET path` at `host:port`, `None` when it cannot be read (the application ended).
fn try_get(address: &str, path: &str) -> Option<String> {
    use std::io::Write as _;
    let mut s = std::net::TcpStream::connect(address).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// The application id in `spate run -t yarn-per-job`'s stderr.
fn app_of(stderr: &str) -> String {
    stderr
        .split_whitespace()
        .find(|w| w.starts_with("application_"))
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| panic!("no application id in {stderr}"))
        .to_string()
}

/// Pids of the processes running in a container directory of application `app` (every YARN
/// container process of the minicluster runs on this machine, in its container's directory).
fn container_processes(app: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        if cwd.to_string_lossy().contains(&format!("/{app}/")) {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            out.push((pid, cmdline));
        }
    }
    out
}

/// The completed checkpoints in a `GET /jobs/{id}/checkpoints` answer (0 if it names none).
fn completed_checkpoints(body: &str) -> u64 {
    body.split("\"completed\":")
        .nth(1)
        .and_then(|s| s.split([',', '}']).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// `kill -9` of the ApplicationMaster process of `app`.
fn kill_application_master(app: &str) {
    let (pid, cmdline) = container_processes(app)
        .into_iter()
        .find(|(_, c)| c.starts_with("./spate yarn-am "))
        .unwrap_or_else(|| panic!("no ApplicationMaster process of {app}"));
    eprintln!("killing the ApplicationMaster {pid}: {cmdline}");
    assert!(Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap()
        .success());
}

/// Polls `done` every 200 ms until it returns `Some`, failing after `limit` (a generous bound
/// against hanging, not a timing expectation).
fn wait_for<T>(what: &str, limit: Duration, mut done: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = done() {
            return v;
        }
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn yarn_per_job_wordcount_hdfs_to_hdfs_runs_on_the_data_hosts() {
    let Some(h) = hadoop("yarn_per_job_wordcount_hdfs_to_hdfs_runs_on_the_data_hosts") else {
        return;
    };
    home(h);
    let dir = tempfile::tempdir().unwrap();
    let (local, input, per_host) = spread_input(h, dir.path(), "yarn-per-job-locality", 12);
    eprintln!("blocks per host: {per_host:?}");
    let props = dir.path().join("yarn-properties");
    let wordcount = binary("examples/wordcount");

    // The embedded run of the same job.
    let embedded_out = dir.path().join("embedded");
    let embedded = spate(
        &props,
        &[
            "run",
            "-p",
            "3",
            wordcount.to_str().unwrap(),
            "--input",
            &h.uri(&input),
            "--output",
            embedded_out.to_str().unwrap(),
        ],
    );
    assert!(embedded.status.success(), "{}", text(&embedded));
    let expected = read_wordcount_output(&embedded_out);
    assert_eq!(expected, reference_wordcount(&local));

    // Per-job, HDFS to HDFS (with room on every node for the TaskManagers asked there).
    // Alone on YARN: the other tests' containers would take the room the asks need.
    let _alone = crate::fixture::yarn_alone();
    let output = unique("yarn-per-job-out");
    let started = Instant::now();
    let args = per_job_wordcount("3", &[], &h.uri(&input), &h.uri(&output));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, stdout, stderr, hosts) = PerJob::start(&props, &args).wait();
    assert!(ok, "stdout: {stdout}\nstderr: {stderr}");
    eprintln!("per-job run took {:.1}s", started.elapsed().as_secs_f64());
    assert_eq!(hdfs_wordcount_output(h, &output), expected);

    let app = app_of(&stderr);
    assert_eq!(status_field(h, &app, "State"), "FINISHED");
    assert_eq!(status_field(h, &app, "Final-State"), "SUCCEEDED");

    // TaskManagers on the hosts that store the blocks, and the input read there.
    let data_hosts: BTreeSet<String> = per_host.keys().cloned().collect();
    eprintln!("TaskManager hosts: {hosts:?}");
    assert_eq!(
        hosts, data_hosts,
        "TaskManagers placed on the data hosts\n{stderr}"
    );
    let (local_splits, remote_splits, local_bytes, remote_bytes) = split_counts(&stdout);
    let len = std::fs::metadata(&local).unwrap().len();
    assert_eq!(local_bytes + remote_bytes, len);
    let percent = local_bytes as f64 * 100.0 / len as f64;
    eprintln!(
        "yarn per-job locality: {percent:.1}% of bytes local ({local_splits} local, {remote_splits} remote splits)"
    );
    assert!(percent >= 95.0, "only {percent:.1}% local\n{stdout}\n{stderr}");
}

#[test]
fn yarn_per_job_failure_reports_the_error_to_yarn() {
    let Some(h) = hadoop("yarn_per_job_failure_reports_the_error_to_yarn") else {
        return;
    };
    let _yarn = crate::fixture::yarn_shared();
    home(h);
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("yarn-properties");
    let input = dir.path().join("in.txt");
    write_corpus(&input, 10_000, 3).unwrap();
    // The job fails on the cluster: its output directory's parent is a file.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let out_dir = blocker.join("out");
    let args = per_job_wordcount(
        "1",
        &["-D", "restart-strategy.type=none"],
        input.to_str().unwrap(),
        out_dir.to_str().unwrap(),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = spate(&props, &args);
    assert!(!run.status.success(), "{}", text(&run));
    let app = app_of(&String::from_utf8_lossy(&run.stderr));
    assert_eq!(status_field(h, &app, "State"), "FINISHED");
    assert_eq!(status_field(h, &app, "Final-State"), "FAILED");
    let diagnostics = status_field(h, &app, "Diagnostics");
    assert!(
        diagnostics.contains("FAILED") && diagnostics.contains(out_dir.to_str().unwrap()),
        "the job's error is in the diagnostics: {diagnostics}\n{}",
        text(&run)
    );
}

#[test]
fn killing_a_taskmanager_container_during_a_yarn_batch_job_still_gives_the_right_result() {
    let Some(h) = hadoop("killing_a_taskmanager_container_during_a_yarn_batch_job") else {
        return;
    };
    let _yarn = crate::fixture::yarn_shared();
    home(h);
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("yarn-properties");
    let input = dir.path().join("in.txt");
    write_corpus(&input, 40 * MIB, 8).unwrap();
    let out = dir.path().join("out");
    let args = per_job_wordcount(
        "2",
        &["-D", "restart-strategy.fixed-delay.delay=200ms"],
        input.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let job = PerJob::start(&props, &args);
    // Once a subtask runs, kill -9 one TaskManager container's process.
    let app = wait_for("the application id", Duration::from_secs(120), || {
        let e = job.stderr.lock().unwrap().clone();
        e.contains("dashboard at").then(|| app_of(&e))
    });
    let rest = rest_address(
        job.stderr
            .lock()
            .unwrap()
            .lines()
            .find(|l| l.contains("dashboard at"))
            .unwrap(),
    )
    .unwrap();
    wait_for("a running subtask", Duration::from_secs(180), || {
        let jobs = get(&rest, "/jobs/overview");
        assert!(
            !jobs.contains("FINISHED"),
            "the job ended before the kill: {jobs}"
        );
        let jid = jobs.split("\"jid\":\"").nth(1)?.split('"').next()?.to_string();
        let body = get(&rest, &format!("/jobs/{jid}"));
        (body.contains("\"running\":1") || body.contains("\"running\":2")).then_some(())
    });
    let (pid, cmdline) = container_processes(&app)
        .into_iter()
        .find(|(_, c)| c.starts_with("./spate taskmanager "))
        .unwrap_or_else(|| panic!("no TaskManager process of {app}"));
    eprintln!("killing {pid}: {cmdline}");
    assert!(Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap()
        .success());

    let (ok, stdout, stderr, _) = job.wait();
    assert!(ok, "stdout: {stdout}\nstderr: {stderr}");
    eprintln!("{stdout}\n{stderr}");
    assert_eq!(read_wordcount_output(&out), reference_wordcount(&input));
    assert_eq!(status_field(h, &app, "Final-State"), "SUCCEEDED");
}

#[test]
fn yarn_session_runs_jobs_in_turn_and_at_once_releases_idle_taskmanagers_and_is_killed_clean() {
    let Some(h) = hadoop("yarn_session_runs_jobs_in_turn_and_at_once") else {
        return;
    };
    let _yarn = crate::fixture::yarn_shared();
    home(h);
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("yarn-properties");
    // No minimum: TaskManagers come with the jobs and go 2 s after they are idle.
    let mut args = vec![
        "yarn-session",
        "--detached",
        "-s",
        "1",
        "--name",
        "spate-it-session-jobs",
        "-D",
        "resourcemanager.taskmanager-timeout=2s",
    ];
    args.extend(SMALL);
    let out = spate(&props, &args);
    assert!(out.status.success(), "{}", text(&out));
    let app = property(&props, "application-id");
    let rest = property(&props, "rest.address");
    let guard = KillSession(&props, app.clone());
    assert!(get(&rest, "/overview").contains("\"taskmanagers\":0"));

    let input = dir.path().join("in.txt");
    write_corpus(&input, 2 * MIB, 5).unwrap();
    let expected = reference_wordcount(&input);
    let wordcount = binary("examples/wordcount");
    let run = |name: &str, p: &str, extra: &[&str]| -> Output {
        let out = dir.path().join(name);
        let mut args = vec!["run", "-t", "yarn-session", "-p", p];
        args.extend(extra);
        args.extend([
            wordcount.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        spate(&props, &args)
    };

    // One after the other.
    for name in ["first", "second"] {
        let r = run(name, "2", &[]);
        assert!(r.status.success(), "{}", text(&r));
        assert_eq!(read_wordcount_output(&dir.path().join(name)), expected);
    }
    // Two at once.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| run("third", "2", &[]));
        let b = s.spawn(|| run("fourth", "1", &[]));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(a.status.success(), "{}", text(&a));
    assert!(b.status.success(), "{}", text(&b));
    assert_eq!(read_wordcount_output(&dir.path().join("third")), expected);
    assert_eq!(read_wordcount_output(&dir.path().join("fourth")), expected);

    // Idle TaskManagers go.
    wait_for(
        "idle TaskManagers to be released",
        Duration::from_secs(120),
        || {
            get(&rest, "/overview")
                .contains("\"taskmanagers\":0")
                .then_some(())
        },
    );

    // A streaming job that runs until cancelled.
    let streaming = spate(
        &props,
        &[
            "run",
            "-t",
            "yarn-session",
            "--detached",
            binary("examples/streaming_wordcount").to_str().unwrap(),
            "--parallelism",
            "1",
        ],
    );
    assert!(streaming.status.success(), "{}", text(&streaming));
    let jid = String::from_utf8_lossy(&streaming.stdout)
        .split_whitespace()
        .find(|w| w.len() == 32 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no job id in {}", text(&streaming)))
        .to_string();
    wait_for("the streaming job to run", Duration::from_secs(120), || {
        get(&rest, &format!("/jobs/{jid}"))
            .contains("\"state\":\"RUNNING\"")
            .then_some(())
    });
    let cancel = spate(&props, &["cancel", "-t", "yarn-session", &jid]);
    assert!(cancel.status.success(), "{}", text(&cancel));
    wait_for("the job to be cancelled", Duration::from_secs(60), || {
        get(&rest, &format!("/jobs/{jid}"))
            .contains("\"state\":\"CANCELED\"")
            .then_some(())
    });
    let list = spate(&props, &["list", "-t", "yarn-session"]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert_eq!(listed.matches("FINISHED").count(), 4, "{listed}");
    assert!(listed.contains("CANCELED"), "{listed}");

    // Kill: KILLED, and no process of its containers is left.
    let kill = spate(&props, &["yarn-session", "--kill", &app]);
    assert!(kill.status.success(), "{}", text(&kill));
    drop(guard);
    assert_eq!(status_field(h, &app, "State"), "KILLED");
    assert_eq!(status_field(h, &app, "Final-State"), "KILLED");
    wait_for(
        "the containers' processes to end",
        Duration::from_secs(60),
        || container_processes(&app).is_empty().then_some(()),
    );
}

#[test]
fn killing_the_application_master_during_a_per_job_run_still_succeeds() {
    let Some(h) = hadoop("killing_the_application_master_during_a_per_job_run") else {
        return;
    };
    let _yarn = crate::fixture::yarn_shared();
    home(h);
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("yarn-properties");
    let input = dir.path().join("in.txt");
    write_corpus(&input, 40 * MIB, 9).unwrap();
    let out = dir.path().join("out");
    let args = per_job_wordcount(
        "2",
        &["-D", "yarn.application-attempts=2"],
        input.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let job = PerJob::start(&props, &args);
    let (app, rest) = job.addresses();
    wait_for("a running subtask", Duration::from_secs(180), || {
        let jobs = get(&rest, "/jobs/overview");
        assert!(
            !jobs.contains("FINISHED"),
            "the job ended before the kill: {jobs}"
        );
        let jid = jobs.split("\"jid\":\"").nth(1)?.split('"').next()?.to_string();
        let body = get(&rest, &format!("/jobs/{jid}"));
        (body.contains("\"running\":1") || body.contains("\"running\":2")).then_some(())
    });
    kill_application_master(&app);

    let (ok, stdout, stderr, _) = job.wait();
    eprintln!("{stdout}\n{stderr}");
    assert!(ok, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains("next attempt"), "{stderr}");
    assert_eq!(read_wordcount_output(&out), reference_wordcount(&input));
    assert_eq!(status_field(h, &app, "Final-State"), "SUCCEEDED");
}

#[test]
fn a_per_job_run_without_room_for_its_taskmanagers_fails_saying_so() {
    let Some(h) = hadoop("a_per_job_run_without_room_for_its_taskmanagers_fails_saying_so") else {
        return;
    };
    let _yarn = crate::fixture::yarn_shared();
    home(h);
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("yarn-properties");
    let input = dir.path().join("in.txt");
    write_corpus(&input, 10_000, 3).unwrap();
    let out = dir.path().join("out");
    let wordcount = binary("examples/wordcount");
    // Three TaskManagers of a whole NodeManager's memory: the node of the ApplicationMaster has no
    // room for one, so at least one stays outstanding. (Short, and not while a test needs room
    // on particular nodes.)
    let room = crate::fixture::node_room();
    let run = spate(
        &props,
        &[
            "run",
            "-t",
            "yarn-per-job",
            "-p",
            "3",
            "-D",
            "jobmanager.memory.process.size=128mb",
            "-D",
            "taskmanager.memory.process.size=4096mb",
            "-D",
            "yarn.application.start-timeout=8s",
            wordcount.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
    );
    drop(room);
    assert!(!run.status.success(), "{}", text(&run));
    let app = app_of(&String::from_utf8_lossy(&run.stderr));
    assert_eq!(status_field(h, &app, "Final-State"), "FAILED");
    let diagnostics = status_field(h, &app, "Diagnostics");
    assert!(
        diagnostics.contains("YARN did not give")
            && diagnostics.contains("TaskManager containers (4096 MB, 1 vcore(s) each)")
            && diagnostics.contains("yarn.application.start-timeout"),
        "{diagnostics}\n{}",
        text(&run)
    );
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("YARN did not give"),
        "{}",
        text(&run)
    );
}

#[test]
fn a_new_application_master_attempt_recovers_a_sessions_jobs_from_their_checkpoints() {
    let Some(h) = hadoop("a_new_application_master_attempt_recovers_a_sessions_jobs") else {
        return;
    };
    let _yarn = crate::fixture::yarn_shared();
    home(h);
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("yarn-properties");
    let mut args = vec![
        "yarn-session",
        "--detached",
        "-s",
        "2",
        "--name",
        "spate-it-session-attempts",
        "-D",
        "yarn.application-attempts=2",
    ];
    args.extend(SMALL);
    let out = spate(&props, &args);
    assert!(out.status.success(), "{}", text(&out));
    let app = property(&props, "application-id");
    let rest = property(&props, "rest.address");
    let guard = KillSession(&props, app.clone());

    let input = dir.path().join("events.csv");
    spate_e2e::write_events(&input, 45_000);
    let reference = dir.path().join("reference");
    spate_e2e::event_windows_reference(&input, &reference);
    let output = dir.path().join("out");
    // Checkpoints every 500 ms, to HDFS by default on YARN.
    let run = spate(
        &props,
        &[
            "run",
            "-t",
            "yarn-session",
            "--detached",
            "-D",
            "execution.runtime-mode=STREAMING",
            "-D",
            "execution.checkpointing.interval=500ms",
            binary("examples/event_windows").to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
            "-p",
            "2",
            "--rate",
            "3000",
            "--out-of-orderness-ms",
            spate_e2e::EVENTS_BOUND_MS,
        ],
    );
    assert!(run.status.success(), "{}", text(&run));
    let jid = spate_e2e::cluster::job_id_of(&String::from_utf8_lossy(&run.stdout));
    let completed = |rest: &str| -> u64 {
        try_get(rest, &format!("/jobs/{jid}/checkpoints")).map_or(0, |b| completed_checkpoints(&b))
    };
    wait_for("three checkpoints", Duration::from_secs(180), || {
        let jobs = get(&rest, &format!("/jobs/{jid}"));
        assert!(
            !jobs.contains("FINISHED"),
            "the job ended before the kill: {jobs}"
        );
        (completed(&rest) >= 3).then_some(())
    });
    let checkpoints = format!("/user/{}/.spate/checkpoints/{jid}", yarn_user());
    let listing = h.cli(&["fs", "-ls", &checkpoints]);
    assert!(
        listing.contains("chk-"),
        "no checkpoints in HDFS at {checkpoints}:\n{listing}"
    );

    kill_application_master(&app);
    let killed = Instant::now();

    // The client finds the new attempt's JobManager, which runs the job again under its id.
    let list = wait_for("the new attempt's JobManager", Duration::from_secs(180), || {
        let list = spate(&props, &["list", "-t", "yarn-session"]);
        (list.status.success() && String::from_utf8_lossy(&list.stdout).contains(&jid)).then_some(list)
    });
    eprintln!("{}", text(&list));
    let moved = property(&props, "rest.address");
    assert_ne!(
        moved, rest,
        "the properties file names the new attempt's REST address"
    );
    wait_for("the recovered job to run", Duration::from_secs(180), || {
        let body = get(&moved, &format!("/jobs/{jid}"));
        (body.contains("\"state\":\"RUNNING\"") || body.contains("\"state\":\"FINISHED\"")).then_some(())
    });
    eprintln!(
        "the job runs again in the new attempt {} ms after the ApplicationMaster was killed",
        killed.elapsed().as_millis()
    );
    wait_for("the recovered job to finish", Duration::from_secs(300), || {
        let body = get(&moved, &format!("/jobs/{jid}"));
        assert!(
            !body.contains("\"state\":\"FAILED\"") && !body.contains("\"state\":\"CANCELED\""),
            "{body}"
        );
        body.contains("\"state\":\"FINISHED\"").then_some(())
    });
    // It started from a checkpoint of the first attempt, and the output is exactly once.
    let checkpoints_body = get(&moved, &format!("/jobs/{jid}/checkpoints"));
    assert!(
        checkpoints_body.contains("\"restored\":{"),
        "the recovered job did not start from a checkpoint: {checkpoints_body}"
    );
    spate_e2e::assert_same_event_windows_output(&reference, &output);
    assert_eq!(status_field(h, &app, "State"), "RUNNING");

    let kill = spate(&props, &["yarn-session", "--kill", &app]);
    assert!(kill.status.success(), "{}", text(&kill));
    drop(guard);
    assert_eq!(status_field(h, &app, "Final-State"), "KILLED");
}

#[test]
fn a_per_job_streaming_run_resumes_from_its_latest_checkpoint_after_the_application_master_dies() {
    let Some(h) = hadoop("a_per_job_streaming_run_resumes_from_its_latest_checkpoint") else {
        return;
    };
    let _yarn = crate::fixture::yarn_shared();
    home(h);
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("yarn-properties");
    let input = dir.path().join("events.csv");
    spate_e2e::write_events(&input, 45_000);
    let reference = dir.path().join("reference");
    spate_e2e::event_windows_reference(&input, &reference);
    let output = dir.path().join("out");
    let job = binary("examples/event_windows");
    let mut args = vec![
        "run",
        "-t",
        "yarn-per-job",
        "-D",
        "yarn.application-attempts=2",
        "-D",
        "execution.runtime-mode=STREAMING",
        "-D",
        "execution.checkpointing.interval=500ms",
    ];
    args.extend(SMALL);
    args.extend([
        job.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "-p",
        "2",
        "--rate",
        "3000",
        "--out-of-orderness-ms",
        spate_e2e::EVENTS_BOUND_MS,
    ]);
    let run = PerJob::start(&props, &args);
    let (app, rest) = run.addresses();
    let checkpoints = |rest: &str| -> Option<String> {
        let jobs = try_get(rest, "/jobs/overview")?;
        let jid = jobs.split("\"jid\":\"").nth(1)?.split('"').next()?.to_string();
        try_get(rest, &format!("/jobs/{jid}/checkpoints"))
    };
    wait_for("three checkpoints", Duration::from_secs(180), || {
        (completed_checkpoints(&checkpoints(&rest)?) >= 3).then_some(())
    });
    kill_application_master(&app);
    // The second attempt's JobManager (its address in YARN's report) restores the job.
    let rm = spate_yarn::ClientRmClient::from_env().unwrap();
    let app_id: spate_yarn::ApplicationId = app.parse().unwrap();
    let restored = wait_for(
        "the second attempt's JobManager",
        Duration::from_secs(180),
        || {
            let report = rm.get_application_report(app_id).ok()?;
            let moved = report
                .original_tracking_url
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string();
            if moved == rest || moved.is_empty() {
                return None;
            }
            let body = checkpoints(&moved)?;
            body.contains("\"restored\":{").then_some(body)
        },
    );
    eprintln!("restored: {restored}");
    let (ok, stdout, stderr, _) = run.wait();
    assert!(ok, "stdout: {stdout}\nstderr: {stderr}");
    spate_e2e::assert_same_event_windows_output(&reference, &output);
    assert_eq!(status_field(h, &app, "Final-State"), "SUCCEEDED");
}

#[test]
fn a_per_job_attempt_that_cannot_recover_its_job_fails_saying_so() {
    let Some(h) = hadoop("a_per_job_attempt_that_cannot_recover_its_job_fails_saying_so") else {
        return;
    };
    let _yarn = crate::fixture::yarn_shared();
    home(h);
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("yarn-properties");
    let job = binary("examples/streaming_wordcount");
    let mut args = vec![
        "run",
        "-t",
        "yarn-per-job",
        "-D",
        "yarn.application-attempts=2",
        "-D",
        "yarn.application.start-timeout=20s",
    ];
    args.extend(SMALL);
    args.extend([job.to_str().unwrap(), "--parallelism", "1"]);
    let run = PerJob::start(&props, &args);
    let (app, rest) = run.addresses();
    wait_for("the job to run", Duration::from_secs(120), || {
        try_get(&rest, "/jobs/overview")?
            .contains("RUNNING")
            .then_some(())
    });
    // The job's record goes; the next attempt has nothing to recover.
    let store = format!("/user/{}/.spate/{app}/jobs", yarn_user());
    h.cli(&["fs", "-rm", "-r", "-f", &store]);
    kill_application_master(&app);
    let (ok, stdout, stderr, _) = run.wait();
    assert!(!ok, "stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(status_field(h, &app, "Final-State"), "FAILED");
    let diagnostics = h.cli(&["application", "-status", &app]);
    assert!(diagnostics.contains("has no job"), "{diagnostics}");
}
