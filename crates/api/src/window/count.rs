use super::assigner::TimeWindow;
use super::function::WindowFn;
use crate::keyed::KeyFn;
use rustc_hash::FxHashMap;
use spate_runtime::operator::Operator;
use spate_runtime::{Data, Key, Output};
use std::collections::VecDeque;

/// Count windows (Flink's `countWindow`): per key, every `slide` elements the window function
/// sees the last `size` elements. Tumbling when `slide == size` (the window is purged after
/// firing). Like Flink, an incomplete window does not fire at the end of the input.
pub(crate) struct CountWindowOperator<T, K, F> {
    pub key: KeyFn<T, K>,
    pub size: usize,
    pub slide: usize,
    pub f: F,
    pub state: FxHashMap<K, (VecDeque<T>, usize)>,
}

impl<T: Data, K: Key, F: WindowFn<T, K>> Operator<T, F::Out> for CountWindowOperator<T, K, F> {
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
