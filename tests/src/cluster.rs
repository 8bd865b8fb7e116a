//! A real multi-process cluster for tests (used by `tests/cluster` and `tests/hadoop`): one `spate jobmanager` and TaskManagers, each a
//! process, on loopback with ephemeral ports and a private secret file.

use crate::binary;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub rpc: String,
    pub rest: String,
    jobmanager: Child,
    /// The `-D` settings the JobManager was started with.
    jobmanager_props: Vec<String>,
    /// JobManagers started so far.
    jobmanagers: usize,
    pub taskmanagers: Vec<Child>,
}

impl Cluster {
    /// A JobManager and `tms` TaskManagers with `slots` slots each.
    pub fn start(tms: usize, slots: u32) -> Cluster {
        Self::start_with(tms, slots, &[])
    }

    pub fn start_with(tms: usize, slots: u32, props: &[&str]) -> Cluster {
        Self::start_on(&vec!["127.0.0.1"; tms], slots, props)
    }

    /// A JobManager and one TaskManager per host identity in `hosts` (e.g. the minicluster's
    /// 127.0.0.2-4), each with `slots` slots.
    pub fn start_on(hosts: &[&str], slots: u32, props: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let props: Vec<String> = props.iter().map(|p| p.to_string()).collect();
        let (jobmanager, rpc, rest) = Self::spawn_jobmanager(dir.path(), "0", &props, 1);
        let mut c = Cluster {
            dir,
            rpc,
            rest,
            jobmanager,
            jobmanager_props: props,
            jobmanagers: 1,
            taskmanagers: Vec::new(),
        };
        for h in hosts {
            c.add_taskmanager_on(h, slots);
        }
        c.wait_for_taskmanagers(hosts.len());
        c
    }

    /// Starts `spate jobmanager` on `rpc_port` (0: any); the process, its RPC and REST addresses.
    fn spawn_jobmanager(dir: &Path, rpc_port: &str, props: &[String], n: usize) -> (Child, String, String) {
        let log = if n == 1 {
            "jobmanager.log".to_string()
        } else {
            format!("jobmanager-{n}.log")
        };
        let mut cmd = Command::new(binary("spate"));
        cmd.args([
            "jobmanager",
            "--rpc-port",
            rpc_port,
            "--rest-port",
            "0",
            "--host",
            "127.0.0.1",
        ])
        .args(Self::base_props(dir))
        .arg("-D")
        .arg(format!(
            "blob.storage.directory={}",
            dir.join(format!("blobs-{n}")).display()
        ))
        .args(props.iter().flat_map(|p| ["-D", p]))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join(log)).unwrap());
        let mut jobmanager = cmd.spawn().unwrap();
        let stdout = jobmanager.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        // "JobManager RPC at 127.0.0.1:P, REST and dashboard at http://127.0.0.1:Q/"
        let rpc = line
            .split("RPC at ")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap_or_else(|| panic!("unexpected JobManager output {line:?}"))
            .to_string();
        let rest = line
            .split("http://")
            .nth(1)
            .map(|s| s.trim().trim_end_matches('/').to_string())
            .unwrap_or_else(|| panic!("unexpected JobManager output {line:?}"));
        (jobmanager, rpc, rest)
    }

    /// Kills the JobManager (`kill -9`) and starts another one on the same RPC port with the same
    /// configuration; the TaskManagers register with it again.
    pub fn replace_jobmanager(&mut self) {
        Command::new("kill")
            .args(["-9", &self.jobmanager.id().to_string()])
            .status()
            .unwrap();
        let _ = self.jobmanager.wait();
        let port = self.rpc.rsplit(':').next().unwrap().to_string();
        self.jobmanagers += 1;
        let (jobmanager, rpc, rest) =
            Self::spawn_jobmanager(self.dir.path(), &port, &self.jobmanager_props, self.jobmanagers);
        assert_eq!(rpc, self.rpc);
        self.jobmanager = jobmanager;
        self.rest = rest;
    }

    fn base_props(dir: &Path) -> Vec<String> {
        vec![
            "-D".into(),
            format!("security.cluster.secret-file={}", dir.join("secret").display()),
            "-D".into(),
            "heartbeat.interval=200ms".into(),
            "-D".into(),
            "heartbeat.timeout=5s".into(),
        ]
    }

    pub fn secret_prop(&self) -> String {
        format!(
            "security.cluster.secret-file={}",
            self.dir.path().join("secret").display()
        )
    }

    pub fn add_taskmanager(&mut self, slots: u32) {
        self.add_taskmanager_on("127.0.0.1", slots);
    }

    pub fn add_taskmanager_on(&mut self, host: &str, slots: u32) {
        let n = self.taskmanagers.len() + 1;
        let work = self.dir.path().join(format!("tm-{n}"));
        let log = std::fs::File::create(self.dir.path().join(format!("taskmanager-{n}.log"))).unwrap();
        let child = Command::new(binary("spate"))
            .args(["taskmanager", "-m", &self.rpc, "--host", host, "--slots"])
            .arg(slots.to_string())
            .arg("--work-dir")
            .arg(&work)
            .args(Self::base_props(self.dir.path()))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.taskmanagers.push(child);
    }

    pub fn wait_for_taskmanagers(&self, n: usize) {
        let start = Instant::now();
        loop {
            let (status, body) = self.get("/overview");
            if status == 200 && body.contains(&format!("\"taskmanagers\":{n}")) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{n} TaskManagers did not register: {body}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `spate run -m` with extra arguments; returns the finished process's output.
    pub fn run(&self, spate_args: &[&str], job: &Path, job_args: &[&str]) -> Output {
        Command::new(binary("spate"))
            .arg("run")
            .args(["-m", &self.rpc, "-D", &self.secret_prop()])
            .args(spate_args)
            .arg(job)
            .args(job_args)
            .output()
            .unwrap()
    }

    /// A GET on the REST API.
    pub fn get(&self, path: &str) -> (u16, String) {
        http(&self.rest, "GET", path)
    }

    /// Every log of the cluster, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        let mut files: Vec<PathBuf> = Vec::new();
        collect_logs(self.dir.path(), &mut files);
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            out.push_str(&format!("---- {}\n", f.display()));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    /// Data-plane addresses of the job workers, from their logs.
    pub fn data_addresses(&self) -> Vec<String> {
        let mut files = Vec::new();
        collect_logs(self.dir.path(), &mut files);
        files
            .iter()
            .filter(|f| f.to_string_lossy().contains("worker-"))
            .flat_map(|f| {
                let text = std::fs::read_to_string(f).unwrap_or_default();
                text.lines()
                    .filter_map(|l| l.split("data=").nth(1))
                    .filter_map(|s| s.split_whitespace().next())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Polls the REST API until the job reaches `state`.
    pub fn wait_for_state(&self, job: &str, states: &[&str], timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let (_, body) = self.get(&format!("/jobs/{job}"));
            if let Some(s) = states
                .iter()
                .find(|s| body.contains(&format!("\"state\":\"{s}\"")))
            {
                return s.to_string();
            }
            assert!(
                start.elapsed() < timeout,
                "job {job} did not reach {states:?}: {body}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn collect_logs(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_logs(&p, out);
        } else if p.extension().is_some_and(|x| x == "log") {
            out.push(p);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for tm in &mut self.taskmanagers {
            let _ = tm.kill();
            let _ = tm.wait();
        }
        let _ = self.jobmanager.kill();
        let _ = self.jobmanager.wait();
    }
}

/// A request to the REST API: (status, body), or (0, "") when nothing answers.
pub fn http(address: &str, method: &str, path: &str) -> (u16, String) {
    spate_cluster::rest::http::request(address, method, path).unwrap_or((0, String::new()))
}

/// The id in "Job has been submitted with JobID <id>".
pub fn job_id_of(output: &str) -> String {
    output
        .split("JobID ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .map(|s| s.trim_end_matches(';').to_string())
        .unwrap_or_else(|| panic!("no job id in {output:?}"))
}
