//! The dashboard as a person sees it: headless Chromium loads `/` from a real server over a fake
//! backend, runs the page's scripts, and we check the DOM they built and take a screenshot.
//!
//! Needs Debian's `chromium`; without it the test fails unless `SPATE_SKIP_BROWSER=1`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use spate_cluster::rest::browser::chromium_for_tests;
use spate_cluster::rest::{
    serve, JobDetails, JobOverview, Overview, Plan, PlanInput, PlanNode, RestBackend, SplitLocality,
    TaskCounts, TaskManagerInfo, VertexDetails, VertexMetrics,
};

const RUNNING_JID: &str = "4f1c2a9e8b7d6c5b4a39281706f5e4d3";
const FINISHED_JID: &str = "0b9a8c7d6e5f40312a1b2c3d4e5f6a7b";
const START: i64 = 1_767_261_600_000;
const NOW: i64 = START + 754_000;

/// One running word count (3 vertices, one of them back-pressured) and one finished job.
struct Fake;

fn counts(parallelism: u32, running: bool) -> TaskCounts {
    if running {
        TaskCounts {
            total: parallelism,
            running: parallelism,
            ..TaskCounts::default()
        }
    } else {
        TaskCounts {
            total: parallelism,
            finished: parallelism,
            ..TaskCounts::default()
        }
    }
}

fn vertex(
    id: &str,
    name: &str,
    parallelism: u32,
    rate_in: f64,
    rate_out: f64,
    busy: f64,
    bp: f64,
) -> VertexDetails {
    let level = if bp > 0.5 {
        "high"
    } else if bp > 0.1 {
        "low"
    } else {
        "ok"
    };
    VertexDetails {
        id: id.into(),
        name: name.into(),
        parallelism,
        status: "RUNNING".into(),
        tasks: counts(parallelism, true),
        metrics: VertexMetrics {
            read_records: (rate_in * 754.0) as u64,
            write_records: (rate_out * 754.0) as u64,
            read_bytes: (rate_in * 754.0 * 48.0) as u64,
            write_bytes: (rate_out * 754.0 * 48.0) as u64,
        },
        records_in_per_second: rate_in,
        records_out_per_second: rate_out,
        backpressure_level: level.into(),
        busy_ratio: busy,
        idle_ratio: (1.0 - busy - bp).max(0.0),
        backpressured_ratio: bp,
    }
}

fn input(id: &str, ship_strategy: &str) -> PlanInput {
    PlanInput {
        id: id.into(),
        ship_strategy: ship_strategy.into(),
        exchange: "pipelined".into(),
    }
}

fn node(vertex: &VertexDetails, inputs: Vec<PlanInput>) -> PlanNode {
    PlanNode {
        id: vertex.id.clone(),
        description: vertex.name.clone(),
        parallelism: vertex.parallelism,
        inputs,
    }
}

impl RestBackend for Fake {
    fn overview(&self) -> Overview {
        Overview {
            taskmanagers: 2,
            slots_total: 8,
            slots_available: 2,
            jobs_running: 1,
            jobs_finished: 1,
            jobs_cancelled: 0,
            jobs_failed: 0,
            version: "0.1.0".into(),
        }
    }

    fn jobs(&self) -> Vec<JobOverview> {
        // The finished job comes first: the dashboard must still pick the running one.
        vec![
            JobOverview {
                jid: FINISHED_JID.into(),
                name: "Batch: daily totals".into(),
                state: "FINISHED".into(),
                start_time: START - 3_600_000,
                end_time: START - 3_480_000,
                duration: 120_000,
                tasks: counts(4, false),
            },
            JobOverview {
                jid: RUNNING_JID.into(),
                name: "Streaming WordCount".into(),
                state: "RUNNING".into(),
                start_time: START,
                end_time: -1,
                duration: NOW - START,
                tasks: counts(6, true),
            },
        ]
    }

    fn job(&self, id: &str) -> Option<JobDetails> {
        if id != RUNNING_JID {
            return None;
        }
        let source = vertex("v-source", "Source: Kafka lines", 2, 0.0, 48_200.0, 0.22, 0.61);
        let split = vertex(
            "v-split",
            "FlatMap: split words",
            2,
            48_200.0,
            311_000.0,
            0.64,
            0.18,
        );
        let count = vertex(
            "v-count",
            "Window: count per word",
            2,
            311_000.0,
            9_400.0,
            0.97,
            0.0,
        );
        let plan = Plan {
            jid: RUNNING_JID.into(),
            name: "Streaming WordCount".into(),
            nodes: vec![
                node(&source, vec![]),
                node(&split, vec![input("v-source", "FORWARD")]),
                node(&count, vec![input("v-split", "HASH")]),
            ],
        };
        Some(JobDetails {
            jid: RUNNING_JID.into(),
            name: "Streaming WordCount".into(),
            state: "RUNNING".into(),
            start_time: START,
            end_time: -1,
            duration: NOW - START,
            now: NOW,
            restarts: 0,
            failure: None,
            exceptions: Vec::new(),
            vertices: vec![source, split, count],
            plan,
            splits: Some(SplitLocality {
                local_splits: 46,
                remote_splits: 2,
                local_bytes: 46 << 20,
                remote_bytes: 2 << 20,
            }),
        })
    }

    fn cancel(&self, id: &str) -> Result<(), String> {
        Err(format!("job {id} cannot be cancelled in this test"))
    }

    fn taskmanagers(&self) -> Vec<TaskManagerInfo> {
        (1..=2_u16)
            .map(|i| TaskManagerInfo {
                id: format!("taskmanager-{i}"),
                path: format!("127.0.0.1:{}", 6120 + i),
                data_port: 6130 + i,
                host: "127.0.0.1".into(),
                slots_number: 4,
                free_slots: u32::from(i) - 1,
                time_since_last_heartbeat: 400 * i64::from(i),
            })
            .collect()
    }

    fn config(&self) -> Vec<(String, String)> {
        vec![("rest.port".into(), "8081".into())]
    }
}

/// Serves the fake on an ephemeral port until the test process ends.
fn start() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("local addr");
    spate_common::task::spawn_named("rest-browser-test-server", move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            serve(listener, Arc::new(Fake)).await.expect("serve");
        });
    })
    .expect("spawn server thread");
    addr
}

/// The DOM text from `open` up to the next `close`, to count what one element holds.
fn element<'a>(dom: &'a str, open: &str, close: &str) -> &'a str {
    let start = dom
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in the DOM:\n{dom}"));
    let end = dom[start..].find(close).map_or(dom.len(), |end| start + end);
    &dom[start..end]
}

#[test]
fn dashboard_shows_the_running_job_graph() {
    let Some(chromium) = chromium_for_tests() else {
        return;
    };
    let addr = start();
    let url = format!("http://{addr}/");

    let dom = chromium.dump_dom(&url).expect("dump the dashboard's DOM");
    // What the scripts built, without the scripts' own source (which holds the same markup).
    let dom = dom.split("<script").next().unwrap_or_default();
    assert!(
        dom.contains(&format!("class=\"job-row selected\" data-jid=\"{RUNNING_JID}\"")),
        "the running job is listed and selected:\n{dom}"
    );
    assert!(
        dom.contains(&format!("data-jid=\"{FINISHED_JID}\"")),
        "the finished job is listed"
    );
    let graph = element(dom, "<svg id=\"job-graph\"", "</svg>");
    assert_eq!(
        graph.matches("<g class=\"vertex\"").count(),
        3,
        "three vertices in the graph:\n{graph}"
    );
    for name in [
        "Source: Kafka lines",
        "FlatMap: split words",
        "Window: count per word",
    ] {
        assert!(
            graph.contains(&format!("data-name=\"{name}\"")),
            "vertex {name} drawn"
        );
    }
    assert_eq!(graph.matches("<g class=\"edge").count(), 2, "two edges");
    assert!(
        graph.contains(">HASH<") && graph.contains(">FORWARD<"),
        "edges labelled with ship strategies"
    );
    assert!(
        graph.contains("data-backpressure=\"high\""),
        "the source is back-pressured"
    );
    assert_eq!(dom.matches("class=\"vertex-row\"").count(), 3, "vertex table");
    assert_eq!(dom.matches("class=\"tm-row\"").count(), 2, "TaskManager table");
    assert!(dom.contains("id=\"ov-slots-total\">8<"), "overview filled in");
    let locality = element(dom, "<span id=\"job-locality\"", "</span></span>");
    assert!(
        locality.contains("Input locality") && locality.contains("96% local"),
        "input locality shown: {locality}"
    );
    assert!(
        locality.contains("46 local / 2 remote splits") && locality.contains("46.0 MiB / 2.0 MiB"),
        "{locality}"
    );

    // A job named in the URL is shown instead; one the backend does not know says so.
    let dom = chromium
        .dump_dom(&format!("{url}#/jobs/{FINISHED_JID}"))
        .expect("dump with a hash");
    let dom = dom.split("<script").next().unwrap_or_default();
    assert!(
        dom.contains(&format!("class=\"job-row selected\" data-jid=\"{FINISHED_JID}\"")),
        "{dom}"
    );
    assert!(dom.contains(&format!("Job {FINISHED_JID} not found.")), "{dom}");

    let png = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    chromium
        .screenshot(&url, &png, 1400, 900)
        .expect("screenshot the dashboard");
    let bytes = std::fs::read(&png).expect("read the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(
        bytes.len() > 20_000,
        "a screenshot with content, not a blank page: {} bytes",
        bytes.len()
    );
    let width = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let height = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    assert_eq!((width, height), (1400, 900), "window size");
    eprintln!("dashboard screenshot: {}", png.display());
}
