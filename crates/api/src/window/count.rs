use super::assigner::TimeWindow;
use super::function::WindowFn;
use crate::checkpointing::{self, decode_entries, push, Groups};
use crate::keyed::KeyFn;
use rustc_hash::FxHashMap;
use spate_runtime::checkpoint::{CheckpointId, OperatorSnapshot};
use spate_runtime::operator::Operator;
use spate_runtime::{Data, Key, Output, Result, TaskContext};
use std::collections::{BTreeMap, VecDeque};

/// Count windows (Flink's `countWindow`): per key, every `slide` elements the window function
/// sees the last `size` elements. Tumbling when `slide == size` (the window is purged after
/// firing). Like Flink, an incomplete window does not fire at the end of the input.
pub(crate) struct CountWindowOperator<T, K, F> {
    pub key: KeyFn<T, K>,
    pub size: usize,
    pub slide: usize,
    pub f: F,
    pub state: FxHashMap<K, (VecDeque<T>, usize)>,
    pub groups: Groups,
}

impl<T: Data, K: Key, F: WindowFn<T, K>> Operator<T, F::Out> for CountWindowOperator<T, K, F> {
    fn open(&mut self, ctx: &TaskContext) {
        self.groups = Groups::of(ctx);
    }

    /// State: per key group, `(key, last elements, elements seen)`.
    fn initialize_state(&mut self, _ctx: &TaskContext, state: OperatorSnapshot) -> Result<()> {
        let (_, entries) = decode_entries::<(K, VecDeque<T>, usize)>(&state)?;
        self.state
            .extend(entries.into_iter().map(|(k, buf, seen)| (k, (buf, seen))));
        Ok(())
    }

    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        let mut by_group = BTreeMap::new();
        for (k, (buf, seen)) in &self.state {
            push(&mut by_group, self.groups.group_of(k), (k, buf, *seen));
        }
        Ok(checkpointing::keyed(self.groups.encode(by_group, None)?))
    }

    fn process<C: Output<F::Out>>(&mut self, record: T, out: &mut C) {
        let key = self.key.key_of(&record);
        let (buf, seen) = self.state.entry(key.clone()).or_default();
        buf.push_back(record);
        if buf.len() > self.size {
            buf.pop_front();
        }
        *seen += 1;
        if *seen % self.slide == 0 {
            let mut acc = self.f.create();
            for r in buf.iter() {
                self.f.add(&mut acc, r.clone());
            }
            self.f.emit(&key, &TimeWindow::global(), &acc, out);
            if self.slide == self.size {
                buf.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpointing::testing::{check_restores, Ev};
    use crate::window::function::ProcessWindow;
    use spate_runtime::Collector;
    use std::marker::PhantomData;
    use std::sync::Arc;

    #[test]
    fn count_windows_restore_at_any_parallelism() {
        let g = crate::checkpointing::Groups {
            max: 8,
            ..Default::default()
        };
        for (size, slide) in [(3, 3), (4, 2)] {
            let make = move || CountWindowOperator {
                key: KeyFn::Owned(Arc::new(|r: &(u8, u32)| r.0)),
                size,
                slide,
                f: ProcessWindow {
                    f: |k: &u8,
                        _: &TimeWindow,
                        items: Vec<(u8, u32)>,
                        out: &mut dyn Collector<(u8, Vec<u32>)>| {
                        out.collect((*k, items.iter().map(|r| r.1).collect()))
                    },
                    _t: PhantomData,
                },
                state: FxHashMap::default(),
                groups: Groups::default(),
            };
            let mut events = Vec::new();
            for i in 0..100u32 {
                events.push(Ev::Rec(((i * 7 % 5) as u8, i), None));
                if i % 9 == 4 {
                    events.push(Ev::Restore(0));
                }
            }
            let got = check_restores(&make, &|r: &(u8, u32)| Some(g.group_of(&r.0)), &events, 8);
            assert!(got.len() >= 25);
        }
    }
}
