//! Failures, slots and modes of the embedded runtime.

use spate::prelude::*;
use spate::{Error, JobStatus};
use std::time::{Duration, Instant};

#[test]
fn a_panic_in_a_user_function_fails_the_job_with_the_operator_name_and_message() {
    for mode in [RuntimeMode::Batch, RuntimeMode::Streaming] {
        let env = StreamEnv::local();
        env.set_parallelism(2).set_runtime_mode(mode);
        env.from_sequence(1, 100_000)
            .map(|x: i64| x + 1)
            .rebalance()
            .map(|x: i64| {
                if x == 5000 {
                    panic!("bad record {x}");
                }
                x
            })
            .name("Validate")
            .collect();
        let started = Instant::now();
        let err = env.execute("failing").unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "failure must not hang"
        );
        match &err {
            Error::JobFailed { failure, result } => {
                assert_eq!(failure.operator, "Validate");
                assert!(failure.message.contains("bad record 5000"), "{}", failure.message);
                assert!(
                    failure.message.contains("runtime.rs"),
                    "location of the panic: {}",
                    failure.message
                );
                assert_eq!(result.status, JobStatus::Failed);
            }
            other => panic!("unexpected error {other}"),
        }
        assert!(err.to_string().contains("operator 'Validate'"), "{err}");
    }
}

#[test]
fn a_failing_sink_fails_the_job_with_the_sink_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let env = StreamEnv::local();
    env.from_sequence(1, 10).write_as_text(&file);
    let e = env.execute("bad sink").unwrap_err().to_string();
    assert!(e.contains("not-a-dir") && e.contains("not a directory"), "{e}");
}

#[test]
fn a_missing_input_path_is_named() {
    let env = StreamEnv::local();
    env.read_text_file("/no/such/input.txt").collect();
    let e = env.execute("missing").unwrap_err().to_string();
    assert!(
        e.contains("/no/such/input.txt") && e.contains("does not exist"),
        "{e}"
    );
}

#[test]
fn batch_jobs_run_with_fewer_slots_than_their_parallelism_but_streaming_jobs_do_not() {
    let env = StreamEnv::local();
    env.set_parallelism(4);
    env.set_config("taskmanager.numberOfTaskSlots", "1").unwrap();
    let out = env
        .from_sequence(1, 1000)
        .key_by(|x: &i64| x % 10)
        .sum(|x: &mut i64| x)
        .collect();
    env.execute("one slot").unwrap();
    let mut got = out.take();
    got.sort();
    assert_eq!(got.len(), 10);
    assert_eq!(got.iter().sum::<i64>(), (1..=1000).sum::<i64>());

    env.set_runtime_mode(RuntimeMode::Streaming);
    let e = env.execute("one slot streaming").unwrap_err().to_string();
    assert!(
        e.contains("needs 4 task slots") && e.contains("taskmanager.numberOfTaskSlots"),
        "{e}"
    );
}

#[test]
fn automatic_mode_is_batch_for_bounded_sources() {
    let env = StreamEnv::local();
    env.set_parallelism(1);
    let out = env
        .from_collection(vec![1u32, 2, 3, 1])
        .key_by(|x: &u32| *x)
        .sum(|x: &mut u32| x)
        .collect();
    let result = env.execute("auto").unwrap();
    // Batch: one final value per key and a pre-aggregation step.
    let mut got = out.take();
    got.sort();
    assert_eq!(got, [2, 2, 3]);
    let combine = result.operator("Combine").unwrap();
    assert!(
        combine.records_out < combine.records_in,
        "pre-aggregation in batch mode"
    );
    assert!(result.duration > Duration::ZERO);
    let src = result.operator("Source").unwrap();
    assert_eq!((src.records_in, src.records_out), (0, 4));
}

#[test]
fn batch_operations_behind_unbounded_sources_are_rejected_at_submission() {
    let env = StreamEnv::local();
    env.from_generator(None, None, |i| i).count().collect();
    let e = env.execute("unbounded count").unwrap_err().to_string();
    assert!(
        e.contains("needs bounded input") && e.contains("Generator(unbounded)"),
        "{e}"
    );
}

#[test]
fn bad_configuration_is_rejected_with_the_key() {
    let env = StreamEnv::local();
    let e = env
        .set_config("taskmanager.numberOfTaskSlot", "2")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("taskmanager.numberOfTaskSlot") && e.contains("did you mean"),
        "{e}"
    );
    let e = env
        .set_config("execution.runtime-mode", "SOMETIMES")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("execution.runtime-mode") && e.contains("SOMETIMES"),
        "{e}"
    );
}

mod finalize_probe {
    use spate::{Result, Sink, SinkWriter, TaskContext};
    use std::sync::{Arc, Mutex};

    /// Records every `finalize` call; fails on records equal to 13.
    pub struct Probe(pub Arc<Mutex<Vec<bool>>>);

    impl Sink<i64> for Probe {
        fn name(&self) -> String {
            "Probe".into()
        }
        fn create_writer(&self, _ctx: &TaskContext) -> Result<Box<dyn SinkWriter<i64>>> {
            Ok(Box::new(W))
        }
        fn finalize(&self, success: bool) -> Result<()> {
            self.0.lock().unwrap().push(success);
            Ok(())
        }
    }

    struct W;

    impl SinkWriter<i64> for W {
        fn write(&mut self, r: i64) -> Result<()> {
            if r == 13 {
                return Err(spate::Error::Other("unlucky record".into()));
            }
            Ok(())
        }
        fn finish(&mut self) -> Result<()> {
            Ok(())
        }
    }
}

#[test]
fn sinks_are_finalized_once_with_the_jobs_outcome() {
    use std::sync::{Arc, Mutex};
    let calls = Arc::new(Mutex::new(Vec::new()));
    let env = StreamEnv::local();
    env.set_parallelism(2);
    env.from_sequence(1, 12)
        .sink_to(finalize_probe::Probe(calls.clone()));
    env.execute("ok").unwrap();
    assert_eq!(*calls.lock().unwrap(), [true]);

    let calls = Arc::new(Mutex::new(Vec::new()));
    let env = StreamEnv::local();
    env.set_parallelism(2);
    env.from_sequence(1, 20)
        .sink_to(finalize_probe::Probe(calls.clone()));
    let e = env.execute("fails").unwrap_err().to_string();
    assert!(e.contains("Sink: Probe") && e.contains("unlucky record"), "{e}");
    assert_eq!(*calls.lock().unwrap(), [false]);
}
