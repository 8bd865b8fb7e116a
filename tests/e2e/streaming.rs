//! Pipelined execution: backpressure, cancellation, rolling results.

use spate::prelude::*;
use spate::Error;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn a_slow_consumer_holds_back_an_unbounded_source_and_cancel_stops_the_job() {
    let produced = Arc::new(AtomicU64::new(0));
    let consumed = Arc::new(AtomicU64::new(0));
    let env = StreamEnv::local();
    env.set_parallelism(1);
    env.set_config("taskmanager.network.records-per-batch", "10")
        .unwrap();
    env.set_config("taskmanager.network.memory.buffers-per-channel", "2")
        .unwrap();
    let p = produced.clone();
    let c = consumed.clone();
    env.from_generator(None, None, move |i| {
        p.fetch_add(1, Ordering::Relaxed);
        i
    })
    .rebalance()
    .map(move |i: u64| {
        std::thread::sleep(Duration::from_micros(500));
        c.fetch_add(1, Ordering::Relaxed);
        i
    })
    .set_parallelism(1)
    .sink_to(spate_e2e_discard::Discard);
    let job = env.execute_async("backpressure").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let (p1, c1) = (produced.load(Ordering::Relaxed), consumed.load(Ordering::Relaxed));
    job.cancel();
    let r = job.wait();
    assert!(matches!(r, Err(Error::Cancelled(_))), "{:?}", r.err());
    assert!(c1 > 100, "the consumer made progress: {c1}");
    // In flight at most: the channel (2 batches of 10), the batch being filled, the batch being
    // consumed, and one source poll (1024 records) that is blocked mid-way.
    assert!(
        p1 - c1 <= 20 + 10 + 10 + 1024 + 10,
        "produced {p1}, consumed {c1}: the source ran ahead"
    );
}

mod spate_e2e_discard {
    use spate::{Result, Sink, SinkWriter, TaskContext};

    /// Drops everything.
    pub struct Discard;

    impl Sink<u64> for Discard {
        fn name(&self) -> String {
            "Discard".into()
        }
        fn create_writer(&self, _ctx: &TaskContext) -> Result<Box<dyn SinkWriter<u64>>> {
            Ok(Box::new(Writer))
        }
    }

    struct Writer;

    impl SinkWriter<u64> for Writer {
        fn write(&mut self, _record: u64) -> Result<()> {
            Ok(())
        }
        fn finish(&mut self) -> Result<()> {
            Ok(())
        }
    }
}

#[test]
fn streaming_reduce_emits_a_running_value_per_record() {
    let env = StreamEnv::local();
    env.set_parallelism(2).set_runtime_mode(RuntimeMode::Streaming);
    let out = env
        .from_collection(vec![
            ("a".to_string(), 1u32),
            ("a".into(), 2),
            ("b".into(), 5),
            ("a".into(), 3),
        ])
        .key_by(|r: &(String, u32)| r.0.clone())
        .sum(|r: &mut (String, u32)| &mut r.1)
        .collect();
    env.execute("rolling").unwrap();
    let mut a: Vec<u32> = out
        .take()
        .into_iter()
        .filter(|r| r.0 == "a")
        .map(|r| r.1)
        .collect();
    a.sort();
    // The collection is split over two readers, so arrival order of a's records varies, but the
    // running sums always end at 6 and there is one per record.
    assert_eq!(a.len(), 3);
    assert_eq!(a[2], 6);
}

#[test]
fn an_unbounded_streaming_job_with_a_failing_operator_ends() {
    let env = StreamEnv::local();
    env.set_parallelism(2);
    env.from_generator(None, Some(10_000.0), |i| i)
        .map(|i: u64| {
            assert!(i < 500, "record {i} too large");
            i
        })
        .name("Check")
        .collect();
    let e = env.execute("unbounded failing").unwrap_err().to_string();
    assert!(e.contains("operator 'Check'") && e.contains("too large"), "{e}");
}
