//! `AmRmClient` and `NmClient` against the real minicluster: `yarn-probe-am` (this crate's test
//! ApplicationMaster) is staged in HDFS and submitted; inside its container it reads the token
//! file, registers, gets two containers on 127.0.0.3 only, starts them through that node's
//! NodeManager, stops one, waits for both and unregisters SUCCEEDED. YARN's CLI must agree.
//!
//! Needs `HADOOP_CONF_DIR` (see `scripts/minicluster.sh env`); without it the test prints a skip
//! message and passes, unless `SPATE_REQUIRE_HADOOP=1`.
#![allow(clippy::unwrap_used)] // test helpers panic on failure

mod common;

use std::path::Path;
use std::time::Duration;

use common::{cli, conf};
use spate_hadoop_ipc::namenode::current_user;
use spate_yarn::{
    remove_staging_dir, ApplicationState, ApplicationSubmission, ClientRmClient, ContainerId,
    ContainerLaunchContext, FinalStatus, NodeId, Resource, Staging,
};

const TARGET_HOST: &str = "127.0.0.3";

#[test]
fn probe_am_gets_node_local_containers_and_succeeds() {
    let Some(conf) = conf() else { return };
    let user = current_user();
    let rm = ClientRmClient::from_conf(&conf, &user).unwrap();
    let app = rm.get_new_application().unwrap();

    let staging = Staging::create(conf.hadoop(), &user, app.id).unwrap();
    let binary = staging
        .upload(Path::new(env!("CARGO_BIN_EXE_yarn-probe-am")), "yarn-probe-am")
        .unwrap();
    eprintln!("staged {} ({} bytes)", binary.url.file, binary.size);

    let local = tempfile::tempdir().unwrap();
    let marker = local.path().join("marker");
    let report_path = local.path().join("report");
    let mut launch = ContainerLaunchContext {
        commands: vec![
            "./yarn-probe-am".into(),
            "1><LOG_DIR>/stdout".into(),
            "2><LOG_DIR>/stderr".into(),
        ],
        ..Default::default()
    };
    launch.local_resources.insert("yarn-probe-am".into(), binary);
    for (k, v) in [
        ("SPATE_PROBE_HOST", TARGET_HOST.to_string()),
        ("SPATE_PROBE_MARKER", marker.display().to_string()),
        ("SPATE_PROBE_REPORT", report_path.display().to_string()),
    ] {
        launch.environment.insert(k.into(), v);
    }
    let sub = ApplicationSubmission::new(app.id, "spate-test-probe-am", launch, Resource::new(128, 1));
    rm.submit_application(&sub).unwrap();

    let report = rm
        .wait_for_report(app.id, Duration::from_secs(180), |r| r.state.is_terminal())
        .unwrap();
    let probe = std::fs::read_to_string(&report_path).unwrap_or_default();
    eprintln!(
        "{}: {:?} {:?} host={} diagnostics={}\nprobe report:\n{probe}",
        app.id, report.state, report.final_status, report.host, report.diagnostics
    );
    assert_eq!(report.state, ApplicationState::Finished, "{}", report.diagnostics);
    assert_eq!(
        report.final_status,
        FinalStatus::Succeeded,
        "{}",
        report.diagnostics
    );
    assert_eq!(report.diagnostics, "probe passed");
    // The AM registered with its NodeManager's host.
    assert!(report.host.starts_with("127.0.0."), "{}", report.host);

    // Both containers ran on the target host: the RM said so, and the marker was written there.
    let mut ran: Vec<(ContainerId, NodeId, i32)> = Vec::new();
    for line in probe.lines() {
        if let Some(rest) = line.strip_prefix("container ") {
            let f: Vec<&str> = rest.split(' ').collect();
            assert_eq!((f[1], f[3]), ("node", "exit"), "{line}");
            ran.push((
                f[0].parse().unwrap(),
                f[2].parse().unwrap(),
                f[4].parse().unwrap(),
            ));
        }
    }
    assert_eq!(ran.len(), 2, "{probe}");
    for (id, node, _) in &ran {
        assert_eq!(node.host, TARGET_HOST, "{id}");
        assert_eq!(id.attempt.application, app.id);
    }
    assert_eq!(ran[0].2, 0, "the marker writer exits 0");
    let marker_text = std::fs::read_to_string(&marker).unwrap();
    assert_eq!(marker_text.trim(), format!("{TARGET_HOST} {}", ran[0].0));
    assert!(
        probe.contains(&format!(
            "attempt Some(\"appattempt_{}",
            &app.id.to_string()[12..]
        )),
        "{probe}"
    );

    // YARN's own CLI agrees.
    let status = cli(&["application", "-status", &app.id.to_string()]);
    eprintln!("{status}");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix(name)
                    .map(|v| v.trim_start_matches([' ', ':']).trim())
            })
            .unwrap_or_else(|| panic!("no {name} in:\n{status}"))
            .to_string()
    };
    assert_eq!(field("State"), "FINISHED");
    assert_eq!(field("Final-State"), "SUCCEEDED");
    assert_eq!(field("Application-Type"), "Spate");
    assert!(remove_staging_dir(conf.hadoop(), &user, app.id).unwrap());
}

/// Protobuf field `tag` (varint or length-delimited), hand-encoded: the wire types are private.
fn field(out: &mut Vec<u8>, tag: u8, value: Field) {
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    match value {
        Field::Int(v) => {
            out.push(tag << 3);
            varint(out, v as u64);
        }
        Field::Bytes(b) => {
            out.push((tag << 3) | 2);
            varint(out, b.len() as u64);
            out.extend_from_slice(&b);
        }
    }
}

enum Field {
    Int(i64),
    Bytes(Vec<u8>),
}

/// A well-formed `ApplicationAttemptIdProto` of a real application id.
fn attempt_proto(app: spate_yarn::ApplicationId) -> Vec<u8> {
    let mut app_id = Vec::new();
    field(&mut app_id, 1, Field::Int(i64::from(app.id)));
    field(&mut app_id, 2, Field::Int(app.cluster_timestamp));
    let mut attempt = Vec::new();
    field(&mut attempt, 1, Field::Bytes(app_id));
    field(&mut attempt, 2, Field::Int(1));
    attempt
}

#[test]
fn forged_tokens_are_refused_by_the_scheduler_and_the_nodemanager() {
    let Some(conf) = conf() else { return };
    let rm = ClientRmClient::from_conf(&conf, &current_user()).unwrap();
    let app = rm.get_new_application().unwrap().id;
    let forged = |identifier: Vec<u8>, kind: &str| spate_yarn::Token {
        identifier,
        password: vec![1; 20],
        kind: kind.into(),
        service: String::new(),
    };

    // An AMRMToken for an attempt the RM never started (AMRMTokenIdentifierProto).
    let mut amrm = Vec::new();
    field(&mut amrm, 1, Field::Bytes(attempt_proto(app)));
    field(&mut amrm, 2, Field::Int(1));
    let addr = conf.scheduler_address().unwrap();
    let err = spate_yarn::AmRmClient::connect(&addr, forged(amrm, "YARN_AM_RM_TOKEN")).unwrap_err();
    eprintln!("forged AMRMToken: {err}");
    let remote = err.remote().expect("the scheduler's refusal");
    assert!(remote.fatal, "{err}");
    assert!(
        remote.class_name.contains("InvalidToken") || remote.is_access_control(),
        "{err}"
    );

    // An NMToken signed with a key the NodeManager never had (NMTokenIdentifierProto).
    let node = &rm.get_cluster_nodes(&[]).unwrap()[0].node_id;
    let mut node_id = Vec::new();
    field(&mut node_id, 1, Field::Bytes(node.host.as_bytes().to_vec()));
    field(&mut node_id, 2, Field::Int(i64::from(node.port)));
    let mut nm = Vec::new();
    field(&mut nm, 1, Field::Bytes(attempt_proto(app)));
    field(&mut nm, 2, Field::Bytes(node_id));
    field(&mut nm, 3, Field::Bytes(current_user().into_bytes()));
    field(&mut nm, 4, Field::Int(12345));
    let err = spate_yarn::NmClient::connect(node, forged(nm, "NMToken")).unwrap_err();
    eprintln!("forged NMToken: {err}");
    let remote = err.remote().expect("the nodemanager's refusal");
    assert!(remote.fatal, "{err}");

    // A garbage identifier: the server drops the connection (it cannot parse the token).
    let err =
        spate_yarn::AmRmClient::connect(&addr, forged(b"garbage".to_vec(), "YARN_AM_RM_TOKEN")).unwrap_err();
    eprintln!("garbage AMRMToken: {err}");
}
