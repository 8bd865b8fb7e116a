//! The producer end of an exchange: groups records into a batch per consumer subtask and sends a
//! batch when it is full, when the task flushes (buffer timeout or idle input) and at the end.

use crate::channel::{Batch, ChannelTx};
use crate::context::{JobControl, TaskContext};
use crate::failure;
use crate::output::{Collector, Output};
use crate::time::{current_timestamp_raw, StreamEvent};
use crate::Data;
use spate_graph::partitioning::{key_group, subtask_for_key_group};
use spate_graph::Partitioning;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Hash of a key used for partitioning: the same in every process running the same binary.
pub fn hash_key<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
    h.finish()
}

/// A key hash function over records.
pub type KeyHashFn<T> = Arc<dyn Fn(&T) -> u64 + Send + Sync>;
/// A user partitioner: record and number of partitions to partition index.
pub type CustomFn<T> = Arc<dyn Fn(&T, usize) -> usize + Send + Sync>;

/// The typed part of an edge's partitioning (what the graph's [`Partitioning`] cannot carry).
pub enum Partitioner<T> {
    /// No function needed (forward, rebalance, rescale, shuffle, broadcast).
    Plain,
    /// Hash partitioning by a key.
    Hash(KeyHashFn<T>),
    /// A user partitioner.
    Custom(CustomFn<T>),
}

impl<T> Clone for Partitioner<T> {
    fn clone(&self) -> Self {
        match self {
            Partitioner::Plain => Partitioner::Plain,
            Partitioner::Hash(f) => Partitioner::Hash(f.clone()),
            Partitioner::Custom(f) => Partitioner::Custom(f.clone()),
        }
    }
}

enum Route<T> {
    RoundRobin { next: usize },
    Random { state: u64 },
    Broadcast,
    Hash { f: KeyHashFn<T>, max_parallelism: u32 },
    Custom(CustomFn<T>),
}

/// Writes records into the channels of the consumer subtasks this producer is connected to.
/// Each target is a channel and this producer's slot in it.
pub struct RecordWriter<T> {
    targets: Vec<(ChannelTx<T>, u32)>,
    buffers: Vec<Batch<T>>,
    route: Route<T>,
    batch_size: usize,
    control: Arc<JobControl>,
}

impl<T: Data> RecordWriter<T> {
    /// A writer for `partitioning` into `targets` (the connected consumer channels, in consumer
    /// order: all consumers for all-to-all edges, the pointwise subset otherwise).
    pub fn new(
        ctx: &TaskContext,
        partitioning: Partitioning,
        partitioner: Partitioner<T>,
        targets: Vec<(ChannelTx<T>, u32)>,
    ) -> Self {
        let route = match (partitioning, partitioner) {
            (Partitioning::Broadcast, _) => Route::Broadcast,
            (Partitioning::Shuffle, _) => Route::Random {
                state: 0x9E37_79B9_7F4A_7C15 ^ u64::from(ctx.subtask + 1),
            },
            (Partitioning::Hash, Partitioner::Hash(f)) => Route::Hash {
                f,
                max_parallelism: ctx.max_parallelism,
            },
            (Partitioning::Custom, Partitioner::Custom(f)) => Route::Custom(f),
            // Start each producer at a different consumer so that small inputs spread out.
            _ => Route::RoundRobin {
                next: ctx.subtask as usize,
            },
        };
        // A subtask that runs again voids what its failed run wrote into blocking partitions.
        if ctx.execution > 0 {
            for (tx, slot) in &targets {
                let _ = tx.reset(*slot, &ctx.control);
            }
        }
        RecordWriter {
            buffers: targets
                .iter()
                .map(|_| Batch::with_capacity(ctx.batch_size))
                .collect(),
            targets,
            route,
            batch_size: ctx.batch_size.max(1),
            control: ctx.control.clone(),
        }
    }

    fn send(&mut self, t: usize) {
        let batch = std::mem::replace(&mut self.buffers[t], Batch::with_capacity(self.batch_size));
        let (tx, slot) = &self.targets[t];
        match tx.send(*slot, batch, &self.control) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure::fail(format!("cannot write to exchange: {e}")),
            Err(_) => failure::cancelled(),
        }
    }

    #[inline]
    fn push(&mut self, t: usize, record: T, ts: i64) {
        self.buffers[t].push(record, ts);
        if self.buffers[t].len() >= self.batch_size {
            self.send(t);
        }
    }
}

impl<T: Data> Collector<T> for RecordWriter<T> {
    #[inline]
    fn collect(&mut self, record: T) {
        let n = self.targets.len();
        if n == 0 {
            return;
        }
        let ts = current_timestamp_raw();
        let t = match &mut self.route {
            Route::RoundRobin { next } => {
                let t = *next % n;
                *next = t + 1;
                t
            }
            Route::Random { state } => {
                // xorshift64*
                *state ^= *state >> 12;
                *state ^= *state << 25;
                *state ^= *state >> 27;
                (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize % n
            }
            Route::Hash { f, max_parallelism } => {
                let g = key_group(f(&record), *max_parallelism);
                subtask_for_key_group(g, *max_parallelism, n as u32) as usize
            }
            Route::Custom(f) => {
                let t = f(&record, n);
                if t >= n {
                    failure::fail(format!("custom partitioner chose partition {t} of {n}"));
                }
                t
            }
            Route::Broadcast => {
                for t in 1..n {
                    self.push(t, record.clone(), ts);
                }
                0
            }
        };
        self.push(t, record, ts);
    }
}

impl<T: Data> Output<T> for RecordWriter<T> {
    fn flush(&mut self) {
        for t in 0..self.targets.len() {
            if !self.buffers[t].is_empty() {
                self.send(t);
            }
        }
    }

    fn end_input(&mut self) {
        self.flush();
        for (tx, slot) in &self.targets {
            if tx.end(*slot, &self.control).is_err() {
                failure::cancelled();
            }
        }
    }

    fn emit_event(&mut self, event: StreamEvent) {
        // Records before the event must arrive before it.
        self.flush();
        for (tx, slot) in &self.targets {
            if tx.event(*slot, event, &self.control).is_err() {
                failure::cancelled();
            }
        }
    }

    fn on_processing_time(&mut self, _now_ms: i64) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{pipelined, ChannelRx, Received};
    use spate_graph::ExecutionMode;

    fn drain(rx: ChannelRx<u64>) -> Vec<u64> {
        let mut v = Vec::new();
        rx.drain(&JobControl::default(), |r| {
            if let Received::Batch(b) = r {
                v.extend(b.records)
            }
        })
        .unwrap()
        .unwrap();
        v
    }

    fn run(p: Partitioning, part: Partitioner<u64>, n: usize, records: u64) -> Vec<Vec<u64>> {
        let mut ctx = TaskContext::standalone(ExecutionMode::Streaming);
        ctx.batch_size = 7;
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..n).map(|_| pipelined::<u64>(1000, 1)).unzip();
        let mut w = RecordWriter::new(&ctx, p, part, txs.into_iter().map(|t| (t, 0)).collect());
        for r in 0..records {
            w.collect(r);
        }
        w.end_input();
        rxs.into_iter().map(drain).collect()
    }

    #[test]
    fn rebalance_spreads_evenly() {
        let out = run(Partitioning::Rebalance, Partitioner::Plain, 3, 30);
        assert!(out.iter().all(|v| v.len() == 10), "{out:?}");
    }

    #[test]
    fn broadcast_sends_everything_everywhere() {
        let out = run(Partitioning::Broadcast, Partitioner::Plain, 3, 10);
        assert!(out.iter().all(|v| *v == (0..10).collect::<Vec<_>>()));
    }

    #[test]
    fn hash_sends_equal_keys_to_one_subtask() {
        let f: KeyHashFn<u64> = Arc::new(|r| hash_key(&(r % 5)));
        let out = run(Partitioning::Hash, Partitioner::Hash(f), 4, 100);
        for k in 0..5 {
            let holders = out.iter().filter(|v| v.iter().any(|r| r % 5 == k)).count();
            assert_eq!(holders, 1);
        }
        assert_eq!(out.iter().map(Vec::len).sum::<usize>(), 100);
    }

    #[test]
    fn shuffle_loses_nothing() {
        let out = run(Partitioning::Shuffle, Partitioner::Plain, 3, 1000);
        let mut all: Vec<u64> = out.concat();
        all.sort();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert!(out.iter().all(|v| v.len() > 200));
    }

    #[test]
    fn custom_partitioner_is_followed() {
        let f: CustomFn<u64> = Arc::new(|r, _| if *r < 10 { 0 } else { 1 });
        let out = run(Partitioning::Custom, Partitioner::Custom(f), 2, 20);
        assert_eq!(out[0], (0..10).collect::<Vec<_>>());
        assert_eq!(out[1], (10..20).collect::<Vec<_>>());
    }

    #[test]
    fn key_hash_is_stable() {
        // Partitioning must agree between processes; pin the value.
        assert_eq!(hash_key("spate"), hash_key(&"spate".to_string()));
        assert_eq!(hash_key(&42u64), hash_key(&42u64));
    }
}
