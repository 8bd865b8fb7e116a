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
//!
//! Checkpoints: per key group a list of [`Entry`]s — each key's pane accumulators (with the
//! count since the last count firing), session windows and session timers — plus, in every key
//! group the subtask owns, the windows whose panes fired already (operator-wide, so that
//! restored panes neither fire twice nor lose a late firing) and the watermark. The number of
//! late records dropped travels as operator state.

use super::assigner::{TimeWindow, Trigger, WindowAssigner};
use super::function::WindowFn;
use crate::checkpointing::{self, decode_entries, decode_items, push, Groups};
use crate::keyed::KeyFn;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use spate_runtime::checkpoint::{encode, CheckpointId, OperatorSnapshot};
use spate_runtime::failure;
use spate_runtime::operator::{Operator, SideOutput, SideOutputs};
use spate_runtime::time::{current_timestamp, now_ms, set_current_timestamp, StreamEvent};
use spate_runtime::{Collector, Data, Key, Output, Result, TaskContext};
use std::collections::BTreeMap;
use tracing::warn;

/// The accumulators of one window, by key.
struct Pane<K, A> {
    /// Accumulator and elements since the last count firing, by key.
    accs: FxHashMap<K, (A, u64)>,
    fired: bool,
}

/// What the window operator writes per key group.
#[derive(Serialize, Deserialize)]
enum Entry<K, A> {
    /// The accumulator of `key` in the pane of `window`, with its elements since the last count
    /// firing.
    Pane {
        window: TimeWindow,
        key: K,
        acc: A,
        count: u64,
    },
    /// The pane of `window` fired (operator-wide; written into every owned key group).
    Fired(TimeWindow),
    /// The session windows of `key`.
    Sessions { key: K, windows: Vec<(TimeWindow, A)> },
    /// A session timer of `key`.
    Timer { time: i64, key: K, window: TimeWindow },
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
    groups: Groups,
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
            groups: Groups::default(),
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

    /// Registers the fire and cleanup timers of session `w` of `key` (once: an element added
    /// to a session without growing it must not make the session fire twice; and no fire timer
    /// when the watermark passed it already — the caller fires such a late session at once).
    fn register(&mut self, key: &K, w: TimeWindow) {
        let fire = w.max_timestamp();
        let cleanup = self.cleanup_time(&w);
        let passed = self.assigner.is_event_time() && fire <= self.watermark;
        for t in [fire, cleanup] {
            if passed && t == fire && t != cleanup {
                continue;
            }
            let due = self.timers.entry(t).or_default();
            if !due.iter().any(|(k, x)| *x == w && k == key) {
                due.push((key.clone(), w));
            }
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

    fn initialize_state(&mut self, _ctx: &TaskContext, state: OperatorSnapshot) -> Result<()> {
        let (watermark, entries) = decode_entries::<Entry<K, F::Acc>>(&state)?;
        if let Some(w) = watermark {
            self.watermark = self.watermark.max(w);
        }
        let mut fired = Vec::new();
        for e in entries {
            match e {
                Entry::Pane {
                    window,
                    key,
                    acc,
                    count,
                } => {
                    self.panes
                        .entry(window)
                        .or_insert_with(|| Pane {
                            accs: FxHashMap::default(),
                            fired: false,
                        })
                        .accs
                        .insert(key, (acc, count));
                }
                Entry::Fired(w) => fired.push(w),
                Entry::Sessions { key, windows } => self.sessions.entry(key).or_default().extend(windows),
                Entry::Timer { time, key, window } => {
                    self.timers.entry(time).or_default().push((key, window))
                }
            }
        }
        for w in fired {
            self.panes
                .entry(w)
                .or_insert_with(|| Pane {
                    accs: FxHashMap::default(),
                    fired: true,
                })
                .fired = true;
        }
        self.late_dropped += decode_items::<u64>(&state)?.into_iter().sum::<u64>();
        Ok(())
    }

    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        let g = self.groups;
        let mut by_group = BTreeMap::new();
        for (window, pane) in &self.panes {
            for (key, (acc, count)) in &pane.accs {
                let e = Entry::Pane {
                    window: *window,
                    key,
                    acc,
                    count: *count,
                };
                push(&mut by_group, g.group_of(key), e);
            }
        }
        for (key, windows) in &self.sessions {
            let windows: Vec<(TimeWindow, &F::Acc)> = windows.iter().map(|(w, a)| (*w, a)).collect();
            push(&mut by_group, g.group_of(key), Entry::Sessions { key, windows });
        }
        for (time, due) in &self.timers {
            for (key, window) in due {
                let e = Entry::Timer {
                    time: *time,
                    key,
                    window: *window,
                };
                push(&mut by_group, g.group_of(key), e);
            }
        }
        let fired: Vec<TimeWindow> = self
            .panes
            .iter()
            .filter(|(_, p)| p.fired)
            .map(|(w, _)| *w)
            .collect();
        if !fired.is_empty() {
            for group in g.owned() {
                let list = by_group.entry(group).or_default();
                list.extend(fired.iter().map(|w| Entry::Fired(*w)));
            }
        }
        let mut snapshot = checkpointing::keyed(g.encode(by_group, Some(self.watermark))?);
        if self.late_dropped > 0 {
            snapshot.operator.push(encode(&self.late_dropped)?);
        }
        Ok(snapshot)
    }

    fn open(&mut self, ctx: &TaskContext) {
        self.groups = Groups::of(ctx);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpointing::testing::{check_restores, Ev};
    use crate::ops::aggregate::AggregateFunction;
    use crate::window::function::{AggregateWindow, ProcessWindow, ReduceWindow};
    use crate::window::{
        EventTimeSessionWindows, GlobalWindows, SlidingEventTimeWindows, TumblingEventTimeWindows,
        TumblingProcessingTimeWindows,
    };
    use std::marker::PhantomData;
    use std::sync::Arc;
    use std::time::Duration;

    const MAX: u32 = 16;
    type Rec = (String, i64);

    fn key() -> KeyFn<Rec, String> {
        KeyFn::Owned(Arc::new(|r: &Rec| r.0.clone()))
    }

    fn group(r: &Rec) -> Option<u32> {
        Some(
            Groups {
                max: MAX,
                ..Groups::default()
            }
            .group_of(&r.0),
        )
    }

    /// Records of 7 keys with out-of-order timestamps, some late (beyond the watermark, some of
    /// them beyond the allowed lateness too), watermarks every few records and a restore every
    /// `restore_every` events.
    fn events(seed: u64, n: usize, restore_every: usize) -> Vec<Ev<Rec>> {
        let mut x = seed;
        let mut next = move |m: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % m
        };
        let mut out = Vec::new();
        let mut max_ts = 0i64;
        for i in 0..n {
            let k = format!("k{}", next(7));
            let mut ts = i as i64 * 10 + next(50) as i64;
            if next(10) == 0 {
                ts -= 150 + next(300) as i64;
            }
            max_ts = max_ts.max(ts);
            out.push(Ev::Rec((k, ts), Some(ts)));
            if i % 7 == 6 {
                out.push(Ev::Wm(max_ts - 60));
            }
            if i % restore_every == restore_every - 1 {
                out.push(Ev::Restore(0));
            }
        }
        out.push(Ev::Wm(i64::MAX));
        out
    }

    type Listed = (String, i64, i64, Vec<i64>);

    #[allow(clippy::type_complexity)]
    fn lister() -> ProcessWindow<
        Rec,
        Listed,
        impl FnMut(&String, &TimeWindow, Vec<Rec>, &mut dyn Collector<Listed>) + Clone,
    > {
        ProcessWindow {
            f: |k: &String, w: &TimeWindow, items: Vec<Rec>, out: &mut dyn Collector<Listed>| {
                let mut v: Vec<i64> = items.iter().map(|r| r.1).collect();
                v.sort();
                out.collect((k.clone(), w.start, w.end, v));
            },
            _t: PhantomData,
        }
    }

    #[derive(Clone)]
    struct SumCount;
    impl AggregateFunction<Rec, (i64, u64), (i64, u64)> for SumCount {
        fn create_accumulator(&self) -> (i64, u64) {
            (0, 0)
        }
        fn add(&self, acc: &mut (i64, u64), r: Rec) {
            acc.0 += r.1;
            acc.1 += 1;
        }
        fn get_result(&self, acc: &(i64, u64)) -> (i64, u64) {
            *acc
        }
        fn merge(&self, a: (i64, u64), b: (i64, u64)) -> (i64, u64) {
            (a.0 + b.0, a.1 + b.1)
        }
    }

    #[test]
    fn tumbling_windows_with_lateness_restore_at_any_parallelism() {
        for lateness in [0, 120] {
            let make = move || {
                let a = TumblingEventTimeWindows::of(Duration::from_millis(100));
                WindowOperator::new(key(), a, lateness, lister(), None)
            };
            for every in [5, 13, 40] {
                let got = check_restores(&make, &group, &events(7, 300, every), MAX);
                assert!(got.len() > 50, "{} results", got.len());
            }
        }
    }

    #[test]
    fn sliding_windows_and_reduce_restore() {
        let make = || {
            let a = SlidingEventTimeWindows::of(Duration::from_millis(200), Duration::from_millis(50));
            let sum = ReduceWindow {
                f: |a: Rec, b: Rec| (a.0, a.1 + b.1),
                _t: PhantomData,
            };
            WindowOperator::new(key(), a, 50, sum, None)
        };
        check_restores(&make, &group, &events(11, 300, 17), MAX);
    }

    #[test]
    fn merging_session_windows_with_timers_restore() {
        for lateness in [0, 200] {
            let make = move || {
                let a = EventTimeSessionWindows::with_gap(Duration::from_millis(25));
                let agg = AggregateWindow {
                    agg: SumCount,
                    result: |k: &String, w: &TimeWindow, r: (i64, u64)| (k.clone(), w.start, w.end, r.0, r.1),
                    _t: PhantomData,
                };
                WindowOperator::new(key(), a, lateness, agg, None)
            };
            for every in [3, 11, 50] {
                let got = check_restores(&make, &group, &events(3, 300, every), MAX);
                assert!(!got.is_empty());
            }
        }
    }

    #[test]
    fn count_triggers_on_global_and_time_windows_restore() {
        for trigger in [Trigger::count(3), Trigger::purging(Trigger::count(4))] {
            let t = trigger.clone();
            let make = move || {
                WindowOperator::new(key(), GlobalWindows::create(), 0, lister(), None).with_trigger(t.clone())
            };
            check_restores(&make, &group, &events(5, 200, 9), MAX);
            let t = trigger.clone();
            let make = move || {
                let a = TumblingEventTimeWindows::of(Duration::from_millis(300));
                WindowOperator::new(key(), a, 100, lister(), None).with_trigger(t.clone())
            };
            check_restores(&make, &group, &events(9, 200, 9), MAX);
        }
    }

    #[test]
    fn processing_time_windows_restore_their_panes() {
        // One window spans every processing time this test can run at.
        let make = || {
            let a = TumblingProcessingTimeWindows::of(Duration::from_secs(u32::MAX as u64));
            WindowOperator::new(key(), a, 0, lister(), None)
        };
        let events: Vec<Ev<Rec>> = events(13, 100, 10)
            .into_iter()
            .map(|e| match e {
                Ev::Rec(r, _) => Ev::Rec(r, None),
                Ev::Wm(_) => Ev::Proc(0),
                e => e,
            })
            .collect();
        let got = check_restores(&make, &group, &events, MAX);
        assert_eq!(got.iter().map(|l| l.3.len()).sum::<usize>(), 100);
    }

    #[test]
    fn the_watermark_and_late_records_are_restored() {
        let make = || {
            let a = TumblingEventTimeWindows::of(Duration::from_millis(100));
            WindowOperator::new(key(), a, 0, lister(), None)
        };
        let mut op = make();
        let ctx = crate::checkpointing::testing::ctx(0, 1, MAX);
        op.open(&ctx);
        let mut out = crate::checkpointing::testing::VecOut(Vec::new());
        set_current_timestamp(50);
        op.process(("a".into(), 50), &mut out);
        op.process_event(StreamEvent::Watermark(120), &mut out);
        assert_eq!(out.0.len(), 1);
        set_current_timestamp(60);
        op.process(("a".into(), 60), &mut out);
        let snap = op.snapshot_state(1).unwrap();
        let mut restored = make();
        restored.initialize_state(&ctx, snap).unwrap();
        restored.open(&ctx);
        assert_eq!(restored.watermark, 120);
        assert_eq!(restored.late_dropped, 1);
        // Still late after the restore: dropped, not a second firing of [0, 100).
        set_current_timestamp(70);
        restored.process(("a".into(), 70), &mut out);
        restored.process_event(StreamEvent::Watermark(i64::MAX), &mut out);
        assert_eq!(out.0.len(), 1);
        assert_eq!(restored.late_dropped, 2);
    }
}
