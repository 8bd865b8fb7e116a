//! `spate yarn-session` on the minicluster's YARN: a detached session with two TaskManagers runs
//! the wordcount example submitted with `spate run -t yarn-session`, then `--kill` ends it.

use crate::fixture::{hadoop, Hadoop};
use spate_e2e::{binary, read_wordcount_output, reference_wordcount, write_corpus};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

/// The user the `spate` CLI stages as (as `spate_hadoop_ipc::namenode::current_user`).
pub(crate) fn yarn_user() -> String {
    ["HADOOP_USER_NAME", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "spate".to_string())
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "status: {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub(crate) fn spate(props: &Path, args: &[&str]) -> Output {
    Command::new(binary("spate"))
        .args(args)
        .env("SPATE_YARN_PROPERTIES_FILE", props)
        .output()
        .unwrap()
}

/// Kills session `.1` (with the properties file `.0`) when dropped, whatever the test did.
pub(crate) struct KillSession<'a>(pub &'a Path, pub String);

impl Drop for KillSession<'_> {
    fn drop(&mut self) {
        let _ = spate(self.0, &["yarn-session", "--kill", &self.1]);
    }
}

/// `key=value` of the properties file.
pub(crate) fn property(props: &Path, key: &str) -> String {
    let text = std::fs::read_to_string(props).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {text}"))
        .to_string()
}

/// A field of `yarn application -status ID`.
pub(crate) fn status_field(h: &Hadoop, app: &str, name: &str) -> String {
    let status = h.cli(&["application", "-status", app]);
    status
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix(name)
                .map(|v| v.trim_start_matches([' ', ':']).trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {name} in:\n{status}"))
}

/// Minimal HTTP GET of `path` at `host:port`; the body.
pub(crate) fn get(address: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(address).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[test]
fn yarn_session_runs_wordcount_and_is_killed() {
    let Some(h) = hadoop("yarn_session_runs_wordcount_and_is_killed") else {
        return;
    };
    let _yarn = crate::fixture::yarn_shared();
    let user = yarn_user();
    let home = format!("/user/{user}");
    h.cli(&["fs", "-mkdir", "-p", &home]);
    h.cli(&["fs", "-chown", "-R", &user, &home]);

    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("yarn-properties");
    let started = Instant::now();
    let out = spate(
        &props,
        &[
            "yarn-session",
            "--detached",
            "-n",
            "2",
            "-s",
            "1",
            "-tm",
            "256",
            "-jm",
            "256",
            "--name",
            "spate-it-session",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    eprintln!(
        "session started in {:.1}s\n{}",
        started.elapsed().as_secs_f64(),
        text(&out)
    );
    let app = property(&props, "application-id");
    let rest = property(&props, "rest.address");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&props).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Whatever happens next, the application is killed at the end.
    let guard = KillSession(&props, app.clone());

    // YARN's CLI lists it, RUNNING, of type Spate.
    let list = h.cli(&["application", "-list", "-appStates", "RUNNING"]);
    let row = list
        .lines()
        .find(|l| l.contains(&app))
        .unwrap_or_else(|| panic!("{app} not in:\n{list}"));
    assert!(row.contains("Spate") && row.contains("RUNNING"), "{row}");
    assert!(row.contains("spate-it-session"), "{row}");

    // The REST overview at the tracking URL: two TaskManagers with one slot each.
    let overview = get(&rest, "/overview");
    assert!(overview.contains("\"taskmanagers\":2"), "{overview}");
    assert!(overview.contains("\"slots-total\":2"), "{overview}");

    // Wordcount through the session, on local files (the containers run on this machine).
    let input = dir.path().join("in.txt");
    write_corpus(&input, 1_000_000, 7).unwrap();
    let output = dir.path().join("out");
    let run = spate(
        &props,
        &[
            "run",
            "-t",
            "yarn-session",
            "-p",
            "2",
            binary("examples/wordcount").to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", text(&run));
    assert_eq!(read_wordcount_output(&output), reference_wordcount(&input));

    // spate list -t yarn-session shows the finished job; -yid names the session.
    let list = spate(&props, &["list", "-t", "yarn-session"]);
    assert!(list.status.success(), "{}", text(&list));
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("FINISHED"),
        "{}",
        text(&list)
    );
    let list = spate(&props, &["list", "-yid", &app]);
    assert!(list.status.success(), "{}", text(&list));
    let cancel = spate(
        &props,
        &["cancel", "-t", "yarn-session", "00000000000000000000000000000000"],
    );
    assert!(!cancel.status.success());
    assert!(
        String::from_utf8_lossy(&cancel.stderr).contains("cannot cancel job"),
        "{}",
        text(&cancel)
    );
    let wrong = spate(&props, &["list", "-yid", "application_1_0001"]);
    assert!(!wrong.status.success());

    // Kill: KILLED, the staging directory and the properties file are gone.
    let kill = spate(&props, &["yarn-session", "--kill", &app]);
    assert!(kill.status.success(), "{}", text(&kill));
    drop(guard);
    assert_eq!(status_field(h, &app, "State"), "KILLED");
    assert_eq!(status_field(h, &app, "Application-Type"), "Spate");
    let staging = format!("{home}/.spate/{app}");
    let ls = Command::new(crate::fixture::repo_root().join("scripts/hadoop-cli.sh"))
        .args(["fs", "-test", "-e", &staging])
        .output()
        .unwrap();
    assert!(!ls.status.success(), "{staging} still exists");
    assert!(!props.exists(), "the properties file was not removed");
}

#[test]
fn yarn_session_errors_are_one_line() {
    let Some(_h) = hadoop("yarn_session_errors_are_one_line") else {
        return;
    };
    let _yarn = crate::fixture::yarn_shared();
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("yarn-properties");

    // An unknown queue.
    let out = spate(
        &props,
        &["yarn-session", "--detached", "--queue", "no-such-queue"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown yarn queue 'no-such-queue'"), "{err}");

    // No session: run -t yarn-session says so.
    let out = spate(&props, &["run", "-t", "yarn-session", "/bin/true"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no YARN session found"), "{err}");

    // More memory than a container may have.
    let out = spate(
        &props,
        &["yarn-session", "--detached", "-n", "1", "-tm", "100000"],
    );
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exceed YARN's largest container"), "{err}");

    // Too short a start-up timeout (a session takes seconds): the error names its key. (Not a
    // session too big for the cluster: it would starve the other test's session.)
    let out = spate(
        &props,
        &[
            "yarn-session",
            "--detached",
            "-n",
            "1",
            "-tm",
            "128",
            "-jm",
            "128",
            "-D",
            "yarn.application.start-timeout=500ms",
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("timed out after") && err.contains("yarn.application.start-timeout"),
        "{err}"
    );
    assert_eq!(
        err.trim().lines().last().map(|l| l.starts_with("error: ")),
        Some(true),
        "{err}"
    );

    // More than YARN can place (three TaskManagers of a whole NodeManager's memory, one node
    // holding the ApplicationMaster): the timeout says what is missing. (Short, and not while a
    // test needs room on particular nodes.)
    let room = crate::fixture::node_room();
    let out = spate(
        &props,
        &[
            "yarn-session",
            "--detached",
            "-n",
            "3",
            "-tm",
            "4096",
            "-jm",
            "128",
            "-D",
            "yarn.application.start-timeout=8s",
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.trim().lines().last().unwrap_or_default();
    drop(room);
    assert!(
        last.starts_with("error: timed out after")
            && last.contains("more TaskManager container(s) of 4096 MB")
            && last.contains("running node(s) have")
            && last.contains("queue 'default' uses"),
        "{err}"
    );

    // A job binary that does not exist: nothing is submitted.
    let out = spate(&props, &["run", "-t", "yarn-per-job", "/nonexistent/job"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim(), "error: job binary '/nonexistent/job' not found");

    // A wrong ResourceManager address.
    let conf = tempfile::tempdir().unwrap();
    let real = std::env::var("HADOOP_CONF_DIR").unwrap();
    for e in std::fs::read_dir(&real).unwrap().flatten() {
        std::fs::copy(e.path(), conf.path().join(e.file_name())).unwrap();
    }
    let site = conf.path().join("yarn-site.xml");
    let xml = std::fs::read_to_string(&site).unwrap();
    let key = "<name>yarn.resourcemanager.address</name><value>";
    let at = xml.find(key).unwrap() + key.len();
    let end = at + xml[at..].find('<').unwrap();
    std::fs::write(&site, format!("{}127.0.0.1:1{}", &xml[..at], &xml[end..])).unwrap();
    let out = Command::new(binary("spate"))
        .args(["yarn-session", "--detached"])
        .env("HADOOP_CONF_DIR", conf.path())
        .env("SPATE_YARN_PROPERTIES_FILE", &props)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: cannot reach the YARN ResourceManager at 127.0.0.1:1"),
        "{err}"
    );

    // No HADOOP_CONF_DIR.
    let out = Command::new(binary("spate"))
        .args(["yarn-session", "--detached"])
        .env_remove("HADOOP_CONF_DIR")
        .env("SPATE_YARN_PROPERTIES_FILE", &props)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("HADOOP_CONF_DIR is not set"));
}

#[test]
fn yarn_per_job_ends_with_the_jobs_status() {
    let Some(h) = hadoop("yarn_per_job_ends_with_the_jobs_status") else {
        return;
    };
    let _yarn = crate::fixture::yarn_shared();
    let user = yarn_user();
    let home = format!("/user/{user}");
    h.cli(&["fs", "-mkdir", "-p", &home]);
    h.cli(&["fs", "-chown", "-R", &user, &home]);
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("yarn-properties");
    let app_of = |o: &Output| {
        let err = String::from_utf8_lossy(&o.stderr);
        err.split_whitespace()
            .find(|w| w.starts_with("application_"))
            .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
            .unwrap_or_else(|| panic!("no application id in {err}"))
            .to_string()
    };

    // A job that finishes: SUCCEEDED, the output is right, the staging dir is gone.
    let input = dir.path().join("in.txt");
    write_corpus(&input, 300_000, 11).unwrap();
    let output = dir.path().join("out");
    let wordcount = binary("examples/wordcount");
    let started = Instant::now();
    let run = spate(
        &props,
        &[
            "run",
            "-t",
            "yarn-per-job",
            "-p",
            "2",
            "-D",
            "jobmanager.memory.process.size=256mb",
            "-D",
            "taskmanager.memory.process.size=256mb",
            wordcount.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", text(&run));
    eprintln!("per-job run took {:.1}s", started.elapsed().as_secs_f64());
    assert_eq!(read_wordcount_output(&output), reference_wordcount(&input));
    let app = app_of(&run);
    assert_eq!(status_field(h, &app, "Final-State"), "SUCCEEDED");
    let staging = format!("{home}/.spate/{app}");
    let exists = Command::new(crate::fixture::repo_root().join("scripts/hadoop-cli.sh"))
        .args(["fs", "-test", "-e", &staging])
        .output()
        .unwrap();
    assert!(!exists.status.success(), "{staging} still exists");

    // A job that fails on the cluster (its output directory's parent is a file): FAILED.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let run = spate(
        &props,
        &[
            "run",
            "-t",
            "yarn-per-job",
            "-p",
            "1",
            "-D",
            "restart-strategy.type=none",
            "-D",
            "jobmanager.memory.process.size=256mb",
            "-D",
            "taskmanager.memory.process.size=256mb",
            wordcount.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            blocker.join("out").to_str().unwrap(),
        ],
    );
    assert!(!run.status.success(), "{}", text(&run));
    let app = app_of(&run);
    let final_state = status_field(h, &app, "Final-State");
    assert_eq!(final_state, "FAILED", "{}", text(&run));
}

#[test]
fn attached_yarn_session_is_killed_by_sigterm() {
    let Some(h) = hadoop("attached_yarn_session_is_killed_by_sigterm") else {
        return;
    };
    let _yarn = crate::fixture::yarn_shared();
    let user = yarn_user();
    let home = format!("/user/{user}");
    h.cli(&["fs", "-mkdir", "-p", &home]);
    h.cli(&["fs", "-chown", "-R", &user, &home]);
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("yarn-properties");
    let mut child = Command::new(binary("spate"))
        .args(["yarn-session", "-n", "1", "-tm", "128", "-jm", "256"])
        .env("SPATE_YARN_PROPERTIES_FILE", &props)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    while !props.exists() {
        assert!(Instant::now() < deadline, "the session did not start");
        assert!(
            child.try_wait().unwrap().is_none(),
            "spate yarn-session ended early"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let app = property(&props, "application-id");
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(status_field(h, &app, "State"), "KILLED");
    assert!(!props.exists(), "the properties file was not removed");
}
