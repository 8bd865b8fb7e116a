//! `ClientRmClient` and staging against the real minicluster: nodes, a failing AM, a killed AM,
//! an unknown queue, a staged file localized into the AM's container — each checked against
//! YARN's own CLI where it has a view.
//!
//! Needs `HADOOP_CONF_DIR` (see `scripts/minicluster.sh env`); without it the tests print a skip
//! message and pass, unless `SPATE_REQUIRE_HADOOP=1`.
#![allow(clippy::unwrap_used)] // test helpers panic on failure

mod common;

use std::time::Duration;

use common::{cli, cli_output, conf};
use spate_hadoop_ipc::namenode::current_user;
use spate_yarn::{
    remove_staging_dir, ApplicationId, ApplicationState, ApplicationSubmission, ClientRmClient,
    ContainerLaunchContext, Error, FinalStatus, NodeState, Resource, Staging,
};

const WAIT: Duration = Duration::from_secs(120);

/// The line of `application -list -appStates ALL` for `id`.
fn cli_list_line(id: ApplicationId) -> String {
    let list = cli(&["application", "-list", "-appStates", "ALL"]);
    list.lines()
        .find(|l| l.contains(&id.to_string()))
        .unwrap_or_else(|| panic!("{id} not listed by yarn's CLI:\n{list}"))
        .to_string()
}

fn am(commands: &[&str]) -> ContainerLaunchContext {
    let mut commands: Vec<String> = commands.iter().map(|c| c.to_string()).collect();
    commands.push("1><LOG_DIR>/stdout".into());
    commands.push("2><LOG_DIR>/stderr".into());
    ContainerLaunchContext {
        commands,
        ..Default::default()
    }
}

fn submit(rm: &ClientRmClient, name: &str, launch: ContainerLaunchContext) -> ApplicationId {
    let app = rm.get_new_application().unwrap();
    assert!(app.max_capability.memory_mb >= 1024, "{:?}", app.max_capability);
    let sub = ApplicationSubmission::new(app.id, name, launch, Resource::new(128, 1));
    rm.submit_application(&sub).unwrap();
    app.id
}

#[test]
fn cluster_nodes_are_the_three_hosts() {
    let Some(conf) = conf() else { return };
    let rm = ClientRmClient::from_conf(&conf, &current_user()).unwrap();
    let mut nodes = rm.get_cluster_nodes(&[NodeState::Running]).unwrap();
    nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
    for n in &nodes {
        eprintln!(
            "{} http={} rack={} capability={} used={} containers={}",
            n.node_id, n.http_address, n.rack, n.capability, n.used, n.num_containers
        );
    }
    let hosts: Vec<&str> = nodes.iter().map(|n| n.node_id.host.as_str()).collect();
    assert_eq!(hosts, vec!["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
    for n in &nodes {
        assert_eq!(n.state, NodeState::Running);
        assert!(n.node_id.port > 0);
        assert!(
            n.http_address.starts_with(&format!("{}:", n.node_id.host)),
            "{}",
            n.http_address
        );
        assert_eq!(n.rack, "/default-rack");
        assert!(
            n.capability.memory_mb >= 1024 && n.capability.vcores >= 1,
            "{}",
            n.capability
        );
    }
    // No filter means every state; the node ids agree with YARN's CLI.
    assert_eq!(rm.get_cluster_nodes(&[]).unwrap().len(), 3);
    let cli_nodes = cli(&["node", "-list", "-all"]);
    for n in &nodes {
        assert!(cli_nodes.contains(&n.node_id.to_string()), "{cli_nodes}");
    }
}

#[test]
fn am_that_exits_nonzero_fails_with_diagnostics() {
    let Some(conf) = conf() else { return };
    let rm = ClientRmClient::from_conf(&conf, &current_user()).unwrap();
    let id = submit(&rm, "spate-test-exit-3", am(&["exit 3"]));
    let report = rm.wait_for_report(id, WAIT, |r| r.state.is_terminal()).unwrap();
    eprintln!(
        "{id}: {:?} {:?}\n{}",
        report.state, report.final_status, report.diagnostics
    );
    assert_eq!(report.state, ApplicationState::Failed);
    assert_eq!(report.final_status, FinalStatus::Failed);
    assert!(
        report.diagnostics.contains("exitCode: 3"),
        "{}",
        report.diagnostics
    );
    assert_eq!(report.application_type, "Spate");
    assert_eq!(report.name, "spate-test-exit-3");
    assert!(
        report.queue == "default" || report.queue == "root.default",
        "{}",
        report.queue
    );
    assert_eq!(report.user, current_user());
    assert!(report.finish_time >= report.start_time && report.start_time > 0);

    let line = cli_list_line(id);
    eprintln!("yarn cli: {line}");
    assert!(line.contains("FAILED") && line.contains("Spate"), "{line}");
}

#[test]
fn sleeping_am_is_killed() {
    let Some(conf) = conf() else { return };
    let rm = ClientRmClient::from_conf(&conf, &current_user()).unwrap();
    let id = submit(&rm, "spate-test-sleep", am(&["sleep 300"]));
    // The AM never registers, so the application stays ACCEPTED while its container runs.
    let accepted = rm
        .wait_for_report(id, WAIT, |r| {
            r.state == ApplicationState::Accepted && r.current_attempt.is_some()
        })
        .unwrap();
    eprintln!(
        "{id}: {:?} attempt {:?}",
        accepted.state, accepted.current_attempt
    );
    std::thread::sleep(Duration::from_secs(1));
    rm.force_kill_application(id, Some("killed by spate-yarn's test"))
        .unwrap();
    let report = rm.wait_for_report(id, WAIT, |r| r.state.is_terminal()).unwrap();
    eprintln!(
        "{id}: {:?} {:?}\n{}",
        report.state, report.final_status, report.diagnostics
    );
    assert_eq!(report.state, ApplicationState::Killed);
    assert_eq!(report.final_status, FinalStatus::Killed);
    assert!(
        report.diagnostics.contains("killed by spate-yarn's test"),
        "{}",
        report.diagnostics
    );
    // Killing again is a no-op that reports completion.
    assert!(rm.force_kill_application(id, None).unwrap());

    let line = cli_list_line(id);
    eprintln!("yarn cli: {line}");
    assert!(line.contains("KILLED") && line.contains("Spate"), "{line}");
}

#[test]
fn unknown_queue_is_a_clear_error() {
    let Some(conf) = conf() else { return };
    let rm = ClientRmClient::from_conf(&conf, &current_user()).unwrap();
    let default = rm.get_queue_info("default").unwrap();
    eprintln!("{default:?}");
    assert_eq!(default.name, "default");

    let app = rm.get_new_application().unwrap();
    let mut sub =
        ApplicationSubmission::new(app.id, "spate-test-queue", am(&["true"]), Resource::new(128, 1));
    sub.queue = "no-such-queue".into();
    let err = rm.submit_application(&sub).unwrap_err();
    eprintln!("unknown queue: {err}\njava: {:?}", err.remote());
    assert!(
        matches!(&err, Error::UnknownQueue { queue, .. } if queue == "no-such-queue"),
        "{err}"
    );
    assert!(err.to_string().contains("no-such-queue"), "{err}");
    // Hadoop 3.5's CapacityScheduler answers with no queue information rather than an exception;
    // where a scheduler throws one, its Java class is kept.
    if let Some(class) = err.java_class() {
        assert!(
            class.starts_with("org.apache.hadoop.") || class.starts_with("java."),
            "{class}"
        );
    }
    // YARN's own CLI has the same view of the queue.
    let out = cli_output(&["queue", "-status", "no-such-queue"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    eprintln!("yarn queue -status no-such-queue: {}", text.trim());
    assert!(
        text.contains("Cannot get queue") || text.contains("no-such-queue"),
        "{text}"
    );
    // Nothing was submitted.
    let missing = rm.get_application_report(app.id).unwrap_err();
    eprintln!("report of the unsubmitted app: {missing}");
    assert_eq!(
        missing.java_class(),
        Some("org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException")
    );
}

#[test]
fn staged_files_are_localized_into_the_am_container() {
    let Some(conf) = conf() else { return };
    let user = current_user();
    let rm = ClientRmClient::from_conf(&conf, &user).unwrap();
    let app = rm.get_new_application().unwrap();

    let local = tempfile::tempdir().unwrap();
    let script = local.path().join("check.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\n[ \"$(cat payload.txt)\" = hello ] && exit 4\nexit 5\n",
    )
    .unwrap();
    let staging = Staging::create(conf.hadoop(), &user, app.id).unwrap();
    let check = staging.upload(&script, "check.sh").unwrap();
    let payload = staging.upload_bytes(b"hello", "payload.txt").unwrap();
    eprintln!("staged in {}: {check:?}\n{payload:?}", staging.dir());
    assert_eq!(payload.size, 5);
    assert_eq!(check.size, std::fs::metadata(&script).unwrap().len() as i64);
    assert_eq!(check.url.scheme, "hdfs");
    assert_eq!(
        format!("{}:{}", check.url.host, check.url.port),
        conf.hadoop().namenode_address().unwrap()
    );
    // Size and modification time are what Hadoop's own client reports.
    let stat = cli(&["fs", "-stat", "%b %Y", &check.url.file]);
    assert_eq!(stat.trim(), format!("{} {}", check.size, check.timestamp));

    // The AM container sees both files under their link names (and the script is executable):
    // exit code 4 proves it.
    let mut launch = am(&["./check.sh"]);
    launch.local_resources.insert("check.sh".into(), check);
    launch.local_resources.insert("payload.txt".into(), payload);
    let sub = ApplicationSubmission::new(app.id, "spate-test-staging", launch, Resource::new(128, 1));
    rm.submit_application(&sub).unwrap();
    let report = rm
        .wait_for_report(app.id, WAIT, |r| r.state.is_terminal())
        .unwrap();
    eprintln!("{}: {:?}\n{}", app.id, report.state, report.diagnostics);
    assert!(
        report.diagnostics.contains("exitCode: 4"),
        "{}",
        report.diagnostics
    );

    assert!(remove_staging_dir(conf.hadoop(), &user, app.id).unwrap());
    assert!(!remove_staging_dir(conf.hadoop(), &user, app.id).unwrap());
    let exists = cli_output(&["fs", "-test", "-e", &staging.dir().path]);
    assert!(!exists.status.success(), "{} still exists", staging.dir());
}
