//! The window operator, one per keyed window: assigns each element to its windows, keeps an
//! accumulator per (key, window), and fires windows — on the watermark in event time, on the
//! clock in processing time. Event-time semantics are Flink's: a window fires when the watermark
//! passes its last timestamp; with allowed lateness its state stays until
//! `last timestamp + lateness`, and a late element in that time re-fires it; an element whose
//! windows are all past that goes to the late-data side output.
//!
//! State layout:
//! - tumbling and sliding windows: one *pane* per window, ordered by time, each a map from key
//!   to accumulator. An element costs one map lookup per window (the key is cloned only for a
//!   new entry); firing drains whole panes in time order, with no per-key timers.
//! - session windows (merging): per key, its windows with their accumulators, and per-(key,
//!   window) timers, since every key's windows differ.

use super::assigner::{TimeWindow, Trigger, WindowAssigner};
use super::function::WindowFn;
use crate::keyed::KeyFn;
use rustc_hash::FxHashMap;
use spate_runtime::failure;
use spate_runtime::operator::{Operator, SideOutput, SideOutputs};
use spate_runtime::time::{current_timestamp, now_ms, set_current_timestamp, StreamEvent};
use spate_runtime::{Collector, Data, Key, Output, TaskContext};
use std::collections::BTreeMap;
use tracing::warn;

/// The accumulators of one window, by key.
struct Pane<K, A> {
    /// Accumulator and elements since the last count firing, by key.
    accs: FxHashMap<K, (A, u64)>,
    fired: bool,
}

pub(crate) struct WindowOperator<T, K, F: WindowFn<T, K>> {
    key: KeyFn<T, K>,
    assigner: WindowAssigner,
    lateness: i64,
    f: F,
    late_tag: Option<String>,
    late_out: Option<SideOutput<T>>,
    late_dropped: u64,
    name: String,
    /// Non-merging windows, ordered by time.
    panes: BTreeMap<TimeWindow, Pane<K, F::Acc>>,
    /// Merging windows per key.
    sessions: FxHashMap<K, Vec<(TimeWindow, F::Acc)>>,
    /// Session timers: fire and cleanup times of each (key, window).
    timers: BTreeMap<i64, Vec<(K, TimeWindow)>>,
    watermark: i64,
    scratch: Vec<TimeWindow>,
    trigger: Trigger,
}

impl<T: Data, K: Key, F: WindowFn<T, K>> WindowOperator<T, K, F> {
    pub fn new(
        key: KeyFn<T, K>,
        assigner: WindowAssigner,
        lateness: i64,
        f: F,
        late_tag: Option<String>,
    ) -> Self {
        WindowOperator {
            key,
            assigner,
            lateness: if assigner.is_event_time() { lateness } else { 0 },
            f,
            late_tag,
            late_out: None,
            late_dropped: 0,
            name: String::new(),
            panes: BTreeMap::new(),
            sessions: FxHashMap::default(),
            timers: BTreeMap::new(),
            watermark: i64::MIN,
            scratch: Vec::new(),
            trigger: Trigger::Time,
        }
    }

    /// Uses `trigger` instead of firing when time passes the window's end.
    pub fn with_trigger(mut self, trigger: Trigger) -> Self {
        self.trigger = trigger;
        self
    }

    fn cleanup_time(&self, w: &TimeWindow) -> i64 {
        w.max_timestamp().saturating_add(self.lateness)
    }

    fn is_late(&self, w: &TimeWindow) -> bool {
        self.assigner.is_event_time() && self.cleanup_time(w) <= self.watermark
    }

    fn emit<C: Output<F::Out>>(f: &mut F, key: &K, w: &TimeWindow, acc: &F::Acc, out: &mut C) {
        set_current_timestamp(w.max_timestamp());
        f.emit(key, w, acc, out);
    }

    /// Adds `record` to the pane of window `w`; fires that key's window at once if the pane has
    /// fired already (a late element within the allowed lateness).
    fn add_to_pane<C: Output<F::Out>>(&mut self, w: TimeWindow, record: T, out: &mut C) {
        let pane = self.panes.entry(w).or_insert_with(|| Pane {
            accs: FxHashMap::default(),
            fired: false,
        });
        let count_limit = self.trigger.count_limit();
        // The key is needed again only to fire for this element.
        let fire_key = (count_limit.is_some() || (pane.fired && self.trigger.fires_on_time()))
            .then(|| self.key.key_of(&record));
        let accs = &mut pane.accs;
        match self.key.with_key(&record, move |k| accs.get_mut(k)) {
            Some((acc, n)) => {
                self.f.add(acc, record);
                *n += 1;
            }
            None => {
                let k = self.key.key_of(&record);
                let mut acc = self.f.create();
                self.f.add(&mut acc, record);
                pane.accs.insert(k, (acc, 1));
            }
        }
        let Some(k) = fire_key else { return };
        let Some((acc, n)) = pane.accs.get_mut(&k) else {
            return;
        };
        let fire = match count_limit {
            Some(limit) => *n >= limit,
            None => true,
        };
        if fire {
            *n = 0;
            Self::emit(&mut self.f, &k, &w, acc, out);
            if self.trigger.purges() {
                pane.accs.remove(&k);
            }
        }
    }

    /// Fires every pane whose window ended at or before `time` and drops those past their
    /// cleanup time, in time order.
    fn advance_panes<C: Output<F::Out>>(&mut self, time: i64, out: &mut C) {
        let lateness = self.lateness;
        let mut done = Vec::new();
        for (w, pane) in self.panes.iter_mut() {
            if w.max_timestamp() > time {
                break;
            }
            if !pane.fired {
                pane.fired = true;
                if self.trigger.fires_on_time() && self.assigner != WindowAssigner::Global {
                    for (k, (acc, _)) in &pane.accs {
                        Self::emit(&mut self.f, k, w, acc, out);
                    }
                    if self.trigger.purges() {
                        pane.accs.clear();
                    }
                }
            }
            if w.max_timestamp().saturating_add(lateness) <= time {
                done.push(*w);
            }
        }
        for w in done {
            self.panes.remove(&w);
        }
    }

    fn register(&mut self, key: &K, w: TimeWindow) {
        let fire = w.max_timestamp();
        self.timers.entry(fire).or_default().push((key.clone(), w));
        let cleanup = self.cleanup_time(&w);
        if cleanup != fire {
            self.timers.entry(cleanup).or_default().push((key.clone(), w));
        }
    }

    /// Session windows: merges `[ts, ts + gap)` with every window of `key` it touches. Gives the
    /// record back when the merged window is already past its allowed lateness.
    fn add_merging<C: Output<F::Out>>(
        &mut self,
        key: &K,
        w: TimeWindow,
        record: T,
        out: &mut C,
    ) -> Result<(), T> {
        let list = self.sessions.remove(key).unwrap_or_default();
        let (mut touching, mut others): (Vec<_>, Vec<_>) =
            list.into_iter().partition(|(x, _)| x.intersects(&w));
        let mut merged = w;
        // Covering may reach further windows; repeat until stable.
        loop {
            merged = touching.iter().fold(merged, |m, (x, _)| m.cover(x));
            let (more, rest): (Vec<_>, Vec<_>) = others.into_iter().partition(|(x, _)| x.intersects(&merged));
            others = rest;
            if more.is_empty() {
                break;
            }
            touching.extend(more);
        }
        if self.is_late(&merged) {
            others.extend(touching);
            if !others.is_empty() {
                self.sessions.insert(key.clone(), others);
            }
            return Err(record);
        }
        let mut acc = self.f.create();
        for (_, a) in touching {
            acc = self.f.merge(acc, a);
        }
        self.f.add(&mut acc, record);
        others.push((merged, acc));
        self.sessions.insert(key.clone(), others);
        self.register(key, merged);
        if self.assigner.is_event_time() && merged.max_timestamp() <= self.watermark {
            if let Some((_, acc)) = self
                .sessions
                .get(key)
                .and_then(|l| l.iter().find(|(x, _)| *x == merged))
            {
                Self::emit(&mut self.f, key, &merged, acc, out);
            }
        }
        Ok(())
    }

    /// Fires and cleans up every session whose timer is at or before `time`, in time order.
    fn advance_sessions<C: Output<F::Out>>(&mut self, time: i64, out: &mut C) {
        while let Some((&t, _)) = self.timers.first_key_value() {
            if t > time {
                break;
            }
            let Some((_, due)) = self.timers.pop_first() else {
                break;
            };
            for (key, w) in due {
                let Some(list) = self.sessions.get_mut(&key) else {
                    continue;
                };
                let Some(pos) = list.iter().position(|(x, _)| *x == w) else {
                    continue;
                };
                if t == w.max_timestamp() {
                    Self::emit(&mut self.f, &key, &w, &list[pos].1, out);
                }
                if t >= w.max_timestamp().saturating_add(self.lateness) {
                    list.swap_remove(pos);
                    if list.is_empty() {
                        self.sessions.remove(&key);
                    }
                }
            }
        }
    }

    fn advance<C: Output<F::Out>>(&mut self, time: i64, out: &mut C) {
        if self.assigner.is_merging() {
            self.advance_sessions(time, out);
        } else {
            self.advance_panes(time, out);
        }
    }

    fn late(&mut self, record: T, ts: i64) {
        match self.late_out.as_mut() {
            Some(o) => {
                set_current_timestamp(ts);
                o.collect(record);
            }
            None => self.late_dropped += 1,
        }
    }
}

impl<T: Data, K: Key, F: WindowFn<T, K>> Operator<T, F::Out> for WindowOperator<T, K, F> {
    fn set_side_outputs(&mut self, side: &mut SideOutputs) {
        if let Some(tag) = &self.late_tag {
            match side.take::<T>(tag) {
                Ok(o) => self.late_out = Some(o),
                Err(e) => failure::fail(e.to_string()),
            }
        }
    }

    fn open(&mut self, ctx: &TaskContext) {
        self.name = ctx.task_name.clone();
        if self.assigner.is_merging() && self.trigger != Trigger::Time {
            failure::fail("session windows support only the default time trigger");
        }
    }

    fn process<C: Output<F::Out>>(&mut self, record: T, out: &mut C) {
        let ts = if self.assigner.is_event_time() {
            match current_timestamp() {
                Some(ts) => ts,
                None => failure::fail(
                    "an event-time window received a record without a timestamp: \
                     call assign_timestamps_and_watermarks before the window",
                ),
            }
        } else {
            now_ms()
        };
        let mut windows = std::mem::take(&mut self.scratch);
        self.assigner.assign_into(ts, &mut windows);
        if self.assigner.is_merging() {
            let key = self.key.key_of(&record);
            let w = windows.first().copied().unwrap_or(TimeWindow::new(ts, ts));
            if let Err(record) = self.add_merging(&key, w, record, out) {
                self.late(record, ts);
            }
        } else {
            windows.retain(|w| !self.is_late(w));
            match windows.split_last() {
                None => self.late(record, ts),
                Some((last, rest)) => {
                    for w in rest {
                        self.add_to_pane(*w, record.clone(), out);
                    }
                    self.add_to_pane(*last, record, out);
                }
            }
        }
        self.scratch = windows;
        // Results carry their window's timestamp; restore the input's for anything after.
        set_current_timestamp(ts);
    }

    fn process_event<C: Output<F::Out>>(&mut self, event: StreamEvent, out: &mut C) -> Option<StreamEvent> {
        if let StreamEvent::Watermark(w) = event {
            if self.assigner.is_event_time() {
                self.watermark = self.watermark.max(w);
                self.advance(w, out);
            }
        }
        Some(event)
    }

    fn on_processing_time<C: Output<F::Out>>(&mut self, now: i64, out: &mut C) {
        if !self.assigner.is_event_time() {
            self.advance(now, out);
        }
    }

    fn end_input<C: Output<F::Out>>(&mut self, out: &mut C) {
        // Bounded input: processing-time windows fire too (event time ended with the final
        // watermark already).
        self.advance(i64::MAX, out);
        if self.late_dropped > 0 {
            warn!(
                operator = %self.name,
                "{} late records were dropped; use side_output_late_data to keep them",
                self.late_dropped
            );
        }
    }
}
