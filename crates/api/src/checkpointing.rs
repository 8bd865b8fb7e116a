//! What the stateful operators share to snapshot and restore their state in checkpoints.
//!
//! Keyed state is written per key group: an operator writes one entry `(group, bytes)` per key
//! group, the bytes a [`GroupState`] (postcard, through [`spate_runtime::checkpoint::encode`]).
//! On restore a subtask receives the groups it owns at its (possibly new) parallelism, possibly
//! written by several old subtasks, and merges them.
//!
//! The operator's event-time watermark travels in every group entry, and operators whose
//! correctness depends on it (windows, joins, timers) write an entry for *every* key group they
//! own, even an empty one, so that a subtask restored at another parallelism learns the watermark
//! too: it takes the smallest of its groups' watermarks (with aligned checkpoints every subtask of
//! an operator has the same watermark at a barrier, since watermarks travel in-band).

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use spate_graph::partitioning::{key_group, subtask_for_key_group};
use spate_runtime::checkpoint::{decode, encode, OperatorSnapshot};
use spate_runtime::record_writer::hash_key;
use spate_runtime::{Key, Result, TaskContext};
use std::collections::BTreeMap;

/// Key groups of a subtask: which it owns and where a key goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Groups {
    /// This subtask.
    pub subtask: u32,
    /// The operator's parallelism.
    pub parallelism: u32,
    /// Number of key groups (`pipeline.max-parallelism`).
    pub max: u32,
}

impl Default for Groups {
    fn default() -> Self {
        Groups {
            subtask: 0,
            parallelism: 1,
            max: 128,
        }
    }
}

impl Groups {
    /// The groups of the subtask `ctx` describes.
    pub fn of(ctx: &TaskContext) -> Self {
        Groups {
            subtask: ctx.subtask,
            parallelism: ctx.parallelism.max(1),
            max: ctx.max_parallelism.max(1),
        }
    }

    /// The key group of `key`.
    pub fn group_of<K: Key>(&self, key: &K) -> u32 {
        key_group(hash_key(key), self.max)
    }

    /// Whether this subtask owns key group `group`.
    pub fn owns(&self, group: u32) -> bool {
        subtask_for_key_group(group, self.max, self.parallelism) == self.subtask
    }

    /// The key groups this subtask owns.
    pub fn owned(&self) -> impl Iterator<Item = u32> {
        let s = *self;
        (0..s.max).filter(move |g| s.owns(*g))
    }

    /// Encodes `entries` per key group as [`GroupState`]s; with a watermark, every owned group
    /// gets an entry (empty ones included), so the watermark reaches every future owner.
    pub fn encode<E: Serialize>(
        &self,
        mut entries: BTreeMap<u32, Vec<E>>,
        watermark: Option<i64>,
    ) -> Result<Vec<(u32, Vec<u8>)>> {
        if watermark.is_some() {
            for g in self.owned() {
                entries.entry(g).or_default();
            }
        }
        let watermark = watermark.unwrap_or(i64::MIN);
        entries
            .into_iter()
            .map(|(g, entries)| Ok((g, encode(&GroupState { watermark, entries })?)))
            .collect()
    }
}

/// What an operator writes for one key group.
#[derive(Serialize, Deserialize)]
pub(crate) struct GroupState<E> {
    /// The operator's event-time watermark (`i64::MIN` when it does not keep one).
    pub watermark: i64,
    /// The group's entries.
    pub entries: Vec<E>,
}

/// Puts `entry` into the list of `group`.
pub(crate) fn push<E>(map: &mut BTreeMap<u32, Vec<E>>, group: u32, entry: E) {
    map.entry(group).or_default().push(entry);
}

/// Entries by key group, as read back.
pub(crate) type GroupEntries<E> = Vec<(u32, Vec<E>)>;

/// The entries of every key group in `state`, with their groups, and the smallest watermark
/// of the groups (`None` when there were none).
pub(crate) fn decode_groups<E: DeserializeOwned>(
    state: &OperatorSnapshot,
) -> Result<(Option<i64>, GroupEntries<E>)> {
    let mut watermark: Option<i64> = None;
    let mut out = Vec::with_capacity(state.keyed.len());
    for (g, bytes) in &state.keyed {
        let s: GroupState<E> = decode(bytes)?;
        watermark = Some(watermark.map_or(s.watermark, |w| w.min(s.watermark)));
        out.push((*g, s.entries));
    }
    Ok((watermark, out))
}

/// Like [`decode_groups`], without the groups.
pub(crate) fn decode_entries<E: DeserializeOwned>(state: &OperatorSnapshot) -> Result<(Option<i64>, Vec<E>)> {
    let (w, groups) = decode_groups(state)?;
    Ok((w, groups.into_iter().flat_map(|(_, e)| e).collect()))
}

/// Decodes every operator-state item of `state` as a `T`.
pub(crate) fn decode_items<T: DeserializeOwned>(state: &OperatorSnapshot) -> Result<Vec<T>> {
    state.operator.iter().map(|b| decode(b)).collect()
}

/// A snapshot holding keyed entries only.
pub(crate) fn keyed(keyed: Vec<(u32, Vec<u8>)>) -> OperatorSnapshot {
    OperatorSnapshot {
        keyed,
        ..OperatorSnapshot::default()
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A harness that runs an operator as several subtasks, snapshots them all at a point,
    //! redistributes the snapshots to another parallelism as the checkpoint storage does, and
    //! goes on with fresh instances.

    use super::*;
    use spate_graph::ExecutionMode;
    use spate_runtime::operator::Operator;
    use spate_runtime::time::{set_current_timestamp, StreamEvent, NO_TIMESTAMP};
    use spate_runtime::{Collector, Output};

    /// An output into a vector.
    pub struct VecOut<T>(pub Vec<T>);

    impl<T: Send> Collector<T> for VecOut<T> {
        fn collect(&mut self, r: T) {
            self.0.push(r);
        }
    }

    impl<T: Send> Output<T> for VecOut<T> {
        fn flush(&mut self) {}
        fn end_input(&mut self) {}
        fn emit_event(&mut self, _: StreamEvent) {}
        fn on_processing_time(&mut self, _: i64) {}
    }

    /// What a test feeds.
    #[derive(Clone, Debug)]
    pub enum Ev<T> {
        /// A record with its timestamp (`None`: without one).
        Rec(T, Option<i64>),
        /// A record to every subtask (a broadcast input).
        All(T, Option<i64>),
        /// A watermark, to every subtask.
        Wm(i64),
        /// Processing time advances, on every subtask.
        Proc(i64),
        /// Every subtask snapshots; the job goes on at the given parallelism from the snapshots.
        Restore(u32),
    }

    /// The context of `subtask` of `parallelism` with `max` key groups.
    pub fn ctx(subtask: u32, parallelism: u32, max: u32) -> TaskContext {
        let mut c = TaskContext::standalone(ExecutionMode::Streaming);
        c.subtask = subtask;
        c.parallelism = parallelism;
        c.max_parallelism = max;
        c
    }

    /// The share of subtask `subtask` of `parallelism` of the snapshots of all old subtasks, as
    /// `RestoredCheckpoint::state_for` computes it.
    pub fn share(old: &[OperatorSnapshot], subtask: u32, parallelism: u32, max: u32) -> OperatorSnapshot {
        let mut out = OperatorSnapshot::default();
        for s in old {
            out.keyed.extend(
                s.keyed
                    .iter()
                    .filter(|(g, _)| subtask_for_key_group(*g, max, parallelism) == subtask)
                    .cloned(),
            );
        }
        if old.len() as u32 == parallelism {
            out.operator = old[subtask as usize].operator.clone();
        } else {
            out.operator = old
                .iter()
                .flat_map(|s| s.operator.iter())
                .enumerate()
                .filter(|(i, _)| *i as u32 % parallelism == subtask)
                .map(|(_, item)| item.clone())
                .collect();
        }
        out
    }

    /// Runs `events` through instances made by `make`, `parallelism` subtasks at first, records
    /// routed to the subtask owning `group(record)` (`None`: round robin); ends the input and
    /// returns every output, sorted.
    pub fn run<T, O, Op>(
        make: &dyn Fn() -> Op,
        group: &dyn Fn(&T) -> Option<u32>,
        events: &[Ev<T>],
        parallelism: u32,
        max: u32,
    ) -> Vec<O>
    where
        T: Clone,
        O: Send + Ord,
        Op: Operator<T, O>,
    {
        let start = |p: u32, states: Option<Vec<OperatorSnapshot>>| -> Vec<Op> {
            (0..p)
                .map(|i| {
                    let c = ctx(i, p, max);
                    let mut op = make();
                    if let Some(old) = &states {
                        op.initialize_state(&c, share(old, i, p, max)).expect("restore");
                    }
                    op.open(&c);
                    op
                })
                .collect()
        };
        let mut ops = start(parallelism, None);
        let mut out = VecOut(Vec::new());
        let mut rr = 0usize;
        let mut checkpoint = 0;
        for e in events {
            match e {
                Ev::Rec(r, ts) => {
                    let p = ops.len() as u32;
                    let i = match group(r) {
                        Some(g) => subtask_for_key_group(g, max, p) as usize,
                        None => {
                            rr += 1;
                            rr % ops.len()
                        }
                    };
                    set_current_timestamp(ts.unwrap_or(NO_TIMESTAMP));
                    ops[i].process(r.clone(), &mut out);
                }
                Ev::All(r, ts) => {
                    for op in &mut ops {
                        set_current_timestamp(ts.unwrap_or(NO_TIMESTAMP));
                        op.process(r.clone(), &mut out);
                    }
                }
                Ev::Wm(w) => {
                    for op in &mut ops {
                        op.process_event(StreamEvent::Watermark(*w), &mut out);
                    }
                }
                Ev::Proc(t) => {
                    for op in &mut ops {
                        op.on_processing_time(*t, &mut out);
                    }
                }
                Ev::Restore(p) => {
                    checkpoint += 1;
                    let snaps: Vec<OperatorSnapshot> = ops
                        .iter_mut()
                        .map(|op| op.snapshot_state(checkpoint).expect("snapshot"))
                        .collect();
                    // Round trip through the task file format.
                    let snaps = snaps
                        .into_iter()
                        .map(|s| decode::<OperatorSnapshot>(&encode(&s).expect("encode")).expect("decode"))
                        .collect();
                    ops = start(*p, Some(snaps));
                }
            }
        }
        for op in &mut ops {
            op.end_input(&mut out);
        }
        let mut v = out.0;
        v.sort();
        v
    }

    /// The outputs of an uninterrupted run at parallelism 1 and of runs restored at the
    /// `Restore` points (as given, and with every restore at parallelism 2→3, 3→2, 1 and same),
    /// asserting that they are all equal.
    pub fn check_restores<T, O, Op>(
        make: &dyn Fn() -> Op,
        group: &dyn Fn(&T) -> Option<u32>,
        events: &[Ev<T>],
        max: u32,
    ) -> Vec<O>
    where
        T: Clone,
        O: Send + Ord + std::fmt::Debug,
        Op: Operator<T, O>,
    {
        let plain: Vec<Ev<T>> = events
            .iter()
            .filter(|e| !matches!(e, Ev::Restore(_)))
            .cloned()
            .collect();
        let expected = run(make, group, &plain, 1, max);
        // Same parallelism, rescaled up and down.
        for (first, restores) in [(1, [1, 1]), (2, [3, 2]), (3, [2, 3]), (2, [2, 1]), (1, [3, 1])] {
            let mut n = 0;
            let evs: Vec<Ev<T>> = events
                .iter()
                .map(|e| match e {
                    Ev::Restore(_) => {
                        let p = restores[n % restores.len()];
                        n += 1;
                        Ev::Restore(p)
                    }
                    e => e.clone(),
                })
                .collect();
            let got = run(make, group, &evs, first, max);
            assert_eq!(
                got, expected,
                "restored run (parallelism {first} then {restores:?})"
            );
        }
        expected
    }
}
