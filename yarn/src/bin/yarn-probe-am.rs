//! A minimal ApplicationMaster that exercises `AmRmClient` and `NmClient` end to end; the
//! integration test `tests/am_nm.rs` submits it. Run inside a YARN AM container, configured by
//! environment variables:
//!
//! - `SPATE_PROBE_HOST` — the host to place the containers on (node-local, no relaxing);
//! - `SPATE_PROBE_MARKER` — a local path the first container writes `$NM_HOST $CONTAINER_ID` to;
//! - `SPATE_PROBE_REPORT` — a local path this AM writes its observations to.
//!
//! It registers, asks for two containers on the host, starts a marker-writing one and a
//! sleeping one through the NodeManager, queries their statuses, stops the sleeping one, waits
//! for both to complete, and unregisters SUCCEEDED when everything went as expected (FAILED,
//! with the reason as diagnostics, otherwise).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use spate_yarn::{
    exit_status, AllocateRequest, AmRmClient, Container, ContainerLaunchContext, ContainerState,
    ContainerStatus, FinalStatus, NmClient, Resource, ResourceRequest,
};

const HEARTBEAT: Duration = Duration::from_millis(200);
const DEADLINE: Duration = Duration::from_secs(90);
const RACK: &str = "/default-rack";

fn main() -> ExitCode {
    let am = match AmRmClient::from_env() {
        Ok(am) => am,
        Err(e) => {
            eprintln!("yarn-probe-am: cannot connect to the scheduler: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "yarn-probe-am: connected to {} as {:?}",
        am.addr(),
        am.attempt_id()
    );
    let host = std::env::var("NM_HOST").unwrap_or_default();
    if let Err(e) = am.register_application_master(&host, 0, "") {
        eprintln!("yarn-probe-am: registration failed: {e}");
        return ExitCode::from(3);
    }
    let mut report = String::new();
    let (status, diagnostics) = match run(&am, &mut report) {
        Ok(()) => (FinalStatus::Succeeded, String::from("probe passed")),
        Err(e) => {
            eprintln!("yarn-probe-am: {e}");
            let _ = writeln!(report, "error {e}");
            (FinalStatus::Failed, e)
        }
    };
    if let Ok(path) = std::env::var("SPATE_PROBE_REPORT") {
        if let Err(e) = std::fs::write(&path, &report) {
            eprintln!("yarn-probe-am: cannot write {path}: {e}");
        }
    }
    match am.finish_application_master(status, &diagnostics, "") {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("yarn-probe-am: unregistering failed: {e}");
            ExitCode::from(4)
        }
    }
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

fn run(am: &AmRmClient, report: &mut String) -> Result<(), String> {
    let target = env("SPATE_PROBE_HOST")?;
    let marker = env("SPATE_PROBE_MARKER")?;
    let _ = writeln!(report, "attempt {:?}", am.attempt_id().map(|a| a.to_string()));

    // Two containers on the target host only.
    let capability = Resource::new(128, 1);
    let mut request = AllocateRequest {
        asks: ResourceRequest::on_host(1, &target, RACK, capability, 2),
        ..Default::default()
    };
    let mut containers: Vec<Container> = Vec::new();
    let mut completed: BTreeMap<String, ContainerStatus> = BTreeMap::new();
    let start = Instant::now();
    while containers.len() < 2 {
        let got = am.allocate(&request).map_err(|e| format!("allocate: {e}"))?;
        request.asks.clear(); // an ask stays outstanding until filled: send it once
        request.progress = 0.1;
        containers.extend(got.allocated);
        deadline(start, "two containers")?;
        std::thread::sleep(HEARTBEAT);
    }
    for c in &containers {
        eprintln!(
            "yarn-probe-am: allocated {} on {} ({})",
            c.id, c.node_id, c.node_http_address
        );
        let _ = writeln!(report, "allocated {} {}", c.id, c.node_id);
        if c.node_id.host != target {
            return Err(format!("{} was placed on {}, not on {target}", c.id, c.node_id));
        }
    }

    // Start both through the NodeManager with its NMToken.
    let (writer, sleeper) = (&containers[0], &containers[1]);
    let token = am
        .nm_token(&writer.node_id)
        .ok_or_else(|| format!("no NMToken for {}", writer.node_id))?;
    let nm = NmClient::connect(&writer.node_id, token).map_err(|e| format!("nm connect: {e}"))?;
    // The NodeManager runs the command inside `bash -c "…"`: no double quotes in it.
    let write_marker = launch(&format!("echo $NM_HOST $CONTAINER_ID > '{marker}'"));
    nm.start_container(writer, &write_marker)
        .map_err(|e| format!("start: {e}"))?;
    nm.start_container(sleeper, &launch("sleep 300 1><LOG_DIR>/stdout"))
        .map_err(|e| format!("start: {e}"))?;

    // The sleeper runs; then stop it.
    loop {
        let st = nm
            .get_container_statuses(&[sleeper.id])
            .map_err(|e| format!("statuses: {e}"))?;
        if let Some(f) = st.failed.first() {
            return Err(format!("status of {}: {}: {}", f.id, f.class_name, f.message));
        }
        if st.statuses.iter().any(|s| s.state == ContainerState::Running) {
            let _ = writeln!(report, "running {}", sleeper.id);
            break;
        }
        heartbeat(am, &mut completed)?;
        deadline(start, "the sleeping container to run")?;
    }
    nm.stop_container(sleeper.id).map_err(|e| format!("stop: {e}"))?;

    // Both complete: the writer with 0, the sleeper stopped by us.
    let done = |completed: &BTreeMap<String, ContainerStatus>| {
        containers
            .iter()
            .all(|c| completed.contains_key(&c.id.to_string()))
    };
    while !done(&completed) {
        heartbeat(am, &mut completed)?;
        deadline(start, "both containers to complete")?;
    }
    let mut ok = true;
    for c in &containers {
        let s = completed
            .get(&c.id.to_string())
            .ok_or_else(|| format!("no completion of {}", c.id))?;
        let _ = writeln!(
            report,
            "container {} node {} exit {}",
            c.id, c.node_id, s.exit_status
        );
        let expected = if c.id == writer.id {
            s.exit_status == exit_status::SUCCESS
        } else {
            s.exit_status == exit_status::KILLED_BY_APPMASTER || s.exit_status == 143
        };
        ok &= expected;
    }
    if !ok {
        return Err(format!("unexpected exit statuses:\n{report}"));
    }
    Ok(())
}

/// One heartbeat that records completed containers.
fn heartbeat(am: &AmRmClient, completed: &mut BTreeMap<String, ContainerStatus>) -> Result<(), String> {
    let request = AllocateRequest {
        progress: 0.5,
        ..Default::default()
    };
    let got = am.allocate(&request).map_err(|e| format!("allocate: {e}"))?;
    for s in got.completed {
        eprintln!(
            "yarn-probe-am: {} completed with {} ({})",
            s.id,
            s.exit_status,
            s.diagnostics.trim()
        );
        completed.insert(s.id.to_string(), s);
    }
    std::thread::sleep(HEARTBEAT);
    Ok(())
}

fn deadline(start: Instant, what: &str) -> Result<(), String> {
    if start.elapsed() > DEADLINE {
        return Err(format!("gave up after {DEADLINE:?} waiting for {what}"));
    }
    Ok(())
}

fn launch(command: &str) -> ContainerLaunchContext {
    ContainerLaunchContext {
        commands: vec![command.to_string(), "2><LOG_DIR>/stderr".into()],
        ..Default::default()
    }
}
