//! Every route against a fake backend, over real HTTP.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::model::{JobIdsWithStatus, MultipleJobsDetails, TaskManagersInfo};
use super::*;

const RUNNING: &str = "a5e0edd8e66b53f1b89c2041f91b8fd2";
const FINISHED: &str = "c9e7d88f3c0b4a6789e012345678abcd";

#[derive(Default)]
struct FakeBackend {
    cancelled: Mutex<Vec<String>>,
}

fn job_overview(jid: &str, state: &str) -> JobOverview {
    let ended = state != "RUNNING";
    JobOverview {
        jid: jid.into(),
        name: format!("job {state}"),
        state: state.into(),
        start_time: 1_700_000_000_000,
        end_time: if ended { 1_700_000_060_000 } else { -1 },
        duration: 60_000,
        tasks: TaskCounts {
            total: 2,
            running: 2,
            ..TaskCounts::default()
        },
    }
}

fn vertex(id: &str, name: &str) -> VertexDetails {
    VertexDetails {
        id: id.into(),
        name: name.into(),
        parallelism: 1,
        status: "RUNNING".into(),
        tasks: TaskCounts {
            total: 1,
            running: 1,
            ..TaskCounts::default()
        },
        metrics: VertexMetrics {
            read_records: 10,
            write_records: 20,
            read_bytes: 30,
            write_bytes: 40,
        },
        records_in_per_second: 1.5,
        records_out_per_second: 2.5,
        backpressure_level: "low".into(),
        busy_ratio: 0.5,
        idle_ratio: 0.3,
        backpressured_ratio: 0.2,
    }
}

impl RestBackend for FakeBackend {
    fn overview(&self) -> Overview {
        Overview {
            taskmanagers: 2,
            slots_total: 8,
            slots_available: 6,
            jobs_running: 1,
            jobs_finished: 1,
            jobs_cancelled: 0,
            jobs_failed: 0,
            version: "0.1.0".into(),
        }
    }

    fn jobs(&self) -> Vec<JobOverview> {
        vec![
            job_overview(RUNNING, "RUNNING"),
            job_overview(FINISHED, "FINISHED"),
        ]
    }

    fn job(&self, id: &str) -> Option<JobDetails> {
        let overview = self.jobs().into_iter().find(|job| job.jid == id)?;
        let node = |id: &str, inputs: Vec<PlanInput>| PlanNode {
            id: id.into(),
            description: format!("vertex {id}"),
            parallelism: 1,
            inputs,
        };
        Some(JobDetails {
            jid: overview.jid.clone(),
            name: overview.name.clone(),
            state: overview.state,
            start_time: overview.start_time,
            end_time: overview.end_time,
            duration: overview.duration,
            now: 1_700_000_060_000,
            restarts: 0,
            failure: None,
            exceptions: Vec::new(),
            vertices: vec![vertex("v1", "Source"), vertex("v2", "Sink")],
            plan: Plan {
                jid: overview.jid,
                name: overview.name,
                nodes: vec![
                    node("v1", vec![]),
                    node(
                        "v2",
                        vec![PlanInput {
                            id: "v1".into(),
                            ship_strategy: "HASH".into(),
                            exchange: "pipelined".into(),
                        }],
                    ),
                ],
            },
            splits: (id == RUNNING).then_some(SplitLocality {
                local_splits: 23,
                remote_splits: 1,
                local_bytes: 23 << 20,
                remote_bytes: 1 << 20,
            }),
        })
    }

    fn cancel(&self, id: &str) -> Result<(), String> {
        if id != RUNNING {
            return Err(format!("job {id} has already ended"));
        }
        self.cancelled.lock().expect("lock").push(id.to_owned());
        Ok(())
    }

    fn taskmanagers(&self) -> Vec<TaskManagerInfo> {
        vec![TaskManagerInfo {
            id: "tm-1".into(),
            path: "http://127.0.0.1:6122".into(),
            data_port: 6121,
            host: "127.0.0.1".into(),
            slots_number: 4,
            free_slots: 3,
            time_since_last_heartbeat: 120,
        }]
    }

    fn config(&self) -> Vec<(String, String)> {
        vec![
            ("rest.port".into(), "8081".into()),
            ("taskmanager.numberOfTaskSlots".into(), "4".into()),
        ]
    }
}

/// Starts `serve` on an ephemeral port in a runtime of its own, left running until the test
/// process ends.
fn start(backend: Arc<FakeBackend>) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("local addr");
    spate_common::task::spawn_named("rest-test-server", move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            serve(listener, backend).await.expect("serve");
        });
    })
    .expect("spawn server thread");
    addr
}

struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn json(&self) -> Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "body: {}",
            self.body
        );
        serde_json::from_str(&self.body).expect("json body")
    }
}

/// A one-request HTTP/1.1 client: enough for tests, no dependency.
fn request(addr: SocketAddr, method: &str, path: &str) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let raw = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("end of headers");
    let mut lines = head.lines();
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let response = HttpResponse {
        status,
        headers,
        body: body.to_owned(),
    };
    assert_ne!(
        response.header("transfer-encoding"),
        Some("chunked"),
        "the test client reads no chunks"
    );
    response
}

fn get(addr: SocketAddr, path: &str) -> HttpResponse {
    request(addr, "GET", path)
}

#[test]
fn overview_uses_flink_field_names() {
    let addr = start(Arc::default());
    let response = get(addr, "/overview");
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_eq!(body["taskmanagers"], 2);
    assert_eq!(body["slots-total"], 8);
    assert_eq!(body["slots-available"], 6);
    assert_eq!(body["jobs-running"], 1);
    assert_eq!(body["jobs-finished"], 1);
    assert_eq!(body["jobs-cancelled"], 0);
    assert_eq!(body["jobs-failed"], 0);
    assert_eq!(body["spate-version"], "0.1.0");
    // The versioned prefix serves the same.
    assert_eq!(get(addr, "/v1/overview").json(), body);
}

#[test]
fn jobs_lists_ids_and_statuses() {
    let addr = start(Arc::default());
    let response = get(addr, "/jobs");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json(),
        serde_json::json!({"jobs": [{"id": RUNNING, "status": "RUNNING"}, {"id": FINISHED, "status": "FINISHED"}]})
    );
    let parsed: JobIdsWithStatus = serde_json::from_str(&response.body).expect("parse");
    assert_eq!(parsed.jobs.len(), 2);
}

#[test]
fn jobs_overview_has_times_and_task_counts() {
    let addr = start(Arc::default());
    let response = get(addr, "/jobs/overview");
    assert_eq!(response.status, 200);
    let body = response.json();
    let running = &body["jobs"][0];
    assert_eq!(running["jid"], RUNNING);
    assert_eq!(running["state"], "RUNNING");
    assert_eq!(running["start-time"], 1_700_000_000_000_i64);
    assert_eq!(running["end-time"], -1);
    assert_eq!(running["duration"], 60_000);
    assert_eq!(running["tasks"]["total"], 2);
    assert_eq!(running["tasks"]["running"], 2);
    assert_eq!(running["tasks"]["canceling"], 0);
    let parsed: MultipleJobsDetails = serde_json::from_str(&response.body).expect("parse");
    assert_eq!(parsed.jobs, FakeBackend::default().jobs());
}

#[test]
fn job_details_carry_vertices_metrics_and_plan() {
    let addr = start(Arc::default());
    let response = get(addr, &format!("/jobs/{RUNNING}"));
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_eq!(body["jid"], RUNNING);
    assert_eq!(body["now"], 1_700_000_060_000_i64);
    assert!(body.get("failure").is_none(), "no failure, no field");
    let source = &body["vertices"][0];
    assert_eq!(source["name"], "Source");
    assert_eq!(source["tasks"]["running"], 1);
    assert_eq!(source["metrics"]["read-records"], 10);
    assert_eq!(source["metrics"]["write-records"], 20);
    assert_eq!(source["metrics"]["read-bytes"], 30);
    assert_eq!(source["metrics"]["write-bytes"], 40);
    assert_eq!(source["records-in-per-second"], 1.5);
    assert_eq!(source["records-out-per-second"], 2.5);
    assert_eq!(source["backpressure-level"], "low");
    assert_eq!(source["busy-ratio"], 0.5);
    assert_eq!(source["idle-ratio"], 0.3);
    assert_eq!(source["backpressured-ratio"], 0.2);
    let input = &body["plan"]["nodes"][1]["inputs"][0];
    assert_eq!(input["id"], "v1");
    assert_eq!(input["ship_strategy"], "HASH");
    assert_eq!(input["exchange"], "pipelined");
    let splits = &body["splits"];
    assert_eq!(splits["local-splits"], 23);
    assert_eq!(splits["remote-splits"], 1);
    assert_eq!(splits["local-bytes"], 23 << 20);
    assert_eq!(splits["remote-bytes"], 1 << 20);
    let parsed: JobDetails = serde_json::from_str(&response.body).expect("parse");
    assert_eq!(Some(parsed), FakeBackend::default().job(RUNNING));
    // A job whose sources do not know where their data lives has no `splits`.
    let finished = get(addr, &format!("/jobs/{FINISHED}")).json();
    assert!(finished.get("splits").is_none(), "{finished}");
}

#[test]
fn job_plan_is_wrapped_like_flink() {
    let addr = start(Arc::default());
    let response = get(addr, &format!("/jobs/{RUNNING}/plan"));
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_eq!(body["plan"]["jid"], RUNNING);
    assert_eq!(body["plan"]["nodes"][0]["description"], "vertex v1");
    assert_eq!(body["plan"]["nodes"][0]["inputs"], serde_json::json!([]));
}

#[test]
fn unknown_job_is_a_404_with_errors() {
    let addr = start(Arc::default());
    for path in ["/jobs/nope", "/jobs/nope/plan"] {
        let response = get(addr, path);
        assert_eq!(response.status, 404, "{path}");
        assert_eq!(
            response.json(),
            serde_json::json!({"errors": ["job nope not found"]})
        );
    }
}

#[test]
fn unknown_route_and_method_answer_json_errors() {
    let addr = start(Arc::default());
    let response = get(addr, "/no/such/route");
    assert_eq!(response.status, 404);
    assert_eq!(
        response.json(),
        serde_json::json!({"errors": ["not found: /no/such/route"]})
    );

    let response = request(addr, "DELETE", "/overview");
    assert_eq!(response.status, 405);
    assert!(response.json()["errors"][0]
        .as_str()
        .is_some_and(|error| error.contains("/overview")));
}

#[test]
fn patch_cancels_through_the_backend() {
    let backend = Arc::new(FakeBackend::default());
    let addr = start(Arc::clone(&backend));

    let response = request(addr, "PATCH", &format!("/jobs/{RUNNING}?mode=cancel"));
    assert_eq!(response.status, 202);
    assert_eq!(response.json(), serde_json::json!({}));
    let response = request(addr, "PATCH", &format!("/jobs/{RUNNING}"));
    assert_eq!(response.status, 202);
    assert_eq!(*backend.cancelled.lock().expect("lock"), [RUNNING, RUNNING]);

    let response = request(addr, "PATCH", &format!("/jobs/{FINISHED}?mode=cancel"));
    assert_eq!(response.status, 409);
    assert_eq!(
        response.json(),
        serde_json::json!({"errors": [format!("job {FINISHED} has already ended")]})
    );

    let response = request(addr, "PATCH", "/jobs/nope?mode=cancel");
    assert_eq!(response.status, 404);
    assert_eq!(response.json()["errors"][0], "job nope not found");

    let response = request(addr, "PATCH", &format!("/jobs/{RUNNING}?mode=stop"));
    assert_eq!(response.status, 400);
    assert!(response.json()["errors"][0]
        .as_str()
        .is_some_and(|error| error.contains("stop")));
    assert_eq!(
        backend.cancelled.lock().expect("lock").len(),
        2,
        "rejected requests cancel nothing"
    );
}

#[test]
fn taskmanagers_use_flink_field_names() {
    let addr = start(Arc::default());
    let response = get(addr, "/taskmanagers");
    assert_eq!(response.status, 200);
    let body = response.json();
    let tm = &body["taskmanagers"][0];
    assert_eq!(tm["id"], "tm-1");
    assert_eq!(tm["path"], "http://127.0.0.1:6122");
    assert_eq!(tm["dataPort"], 6121);
    assert_eq!(tm["host"], "127.0.0.1");
    assert_eq!(tm["slotsNumber"], 4);
    assert_eq!(tm["freeSlots"], 3);
    assert_eq!(tm["timeSinceLastHeartbeat"], 120);
    let parsed: TaskManagersInfo = serde_json::from_str(&response.body).expect("parse");
    assert_eq!(parsed.taskmanagers, FakeBackend::default().taskmanagers());
}

#[test]
fn config_is_served_as_key_value_pairs_at_both_paths() {
    let addr = start(Arc::default());
    let expected = serde_json::json!([
        {"key": "rest.port", "value": "8081"},
        {"key": "taskmanager.numberOfTaskSlots", "value": "4"},
    ]);
    for path in ["/config", "/jobmanager/config", "/v1/jobmanager/config"] {
        let response = get(addr, path);
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.json(), expected, "{path}");
    }
}

#[test]
fn root_serves_the_self_contained_dashboard() {
    let addr = start(Arc::default());
    let response = get(addr, "/");
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .is_some_and(|value| value.starts_with("text/html")));
    let html = &response.body;
    for needle in [
        "id=\"job-graph\"",
        "id=\"ov-slots-total\"",
        "id=\"tm-body\"",
        "job-row",
    ] {
        assert!(html.contains(needle), "dashboard lacks {needle}");
    }
    // No external resources: everything is inline.
    for external in ["<script src", "<link", "http://", "https://", "@import"] {
        let allowed = "http://www.w3.org/2000/svg";
        assert!(
            !html.replace(allowed, "").contains(external),
            "dashboard loads {external}"
        );
    }
}
