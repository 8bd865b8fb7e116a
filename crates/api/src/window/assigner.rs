use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A time window `[start, end)`; its last timestamp is `end - 1`. Count windows use
/// `[i64::MIN, i64::MAX)` (the global window).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimeWindow {
    /// First timestamp, inclusive.
    pub start: i64,
    /// End, exclusive.
    pub end: i64,
}

impl TimeWindow {
    /// `[start, end)`.
    pub fn new(start: i64, end: i64) -> Self {
        TimeWindow { start, end }
    }
    /// The global window (count windows).
    pub fn global() -> Self {
        TimeWindow {
            start: i64::MIN,
            end: i64::MAX,
        }
    }
    /// The largest timestamp in the window; results of the window carry it.
    pub fn max_timestamp(&self) -> i64 {
        self.end.saturating_sub(1)
    }
    /// Whether the windows overlap or touch (session merging).
    pub fn intersects(&self, other: &TimeWindow) -> bool {
        self.start <= other.end && self.end >= other.start
    }
    /// The smallest window covering both.
    pub fn cover(&self, other: &TimeWindow) -> TimeWindow {
        TimeWindow {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// Start of the window of `size` (shifted by `offset`) that holds `ts` (Flink's
/// `TimeWindow.getWindowStartWithOffset`, correct for negative timestamps).
pub fn window_start(ts: i64, offset: i64, size: i64) -> i64 {
    let rem = (ts - offset) % size;
    if rem < 0 {
        ts - (rem + size)
    } else {
        ts - rem
    }
}

/// Which windows an element belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowAssigner {
    /// Fixed-size, non-overlapping windows.
    Tumbling {
        size: i64,
        offset: i64,
        event_time: bool,
    },
    /// Fixed-size windows starting every `slide`.
    Sliding {
        size: i64,
        slide: i64,
        offset: i64,
        event_time: bool,
    },
    /// Windows that grow while elements arrive less than `gap` apart, and merge.
    Session { gap: i64, event_time: bool },
    /// One window holding every element of a key; it fires only through a trigger (e.g.
    /// [`Trigger::count`]), never by time.
    Global,
}

impl WindowAssigner {
    /// Whether the windows follow event time (else processing time).
    pub fn is_event_time(&self) -> bool {
        match *self {
            WindowAssigner::Tumbling { event_time, .. }
            | WindowAssigner::Sliding { event_time, .. }
            | WindowAssigner::Session { event_time, .. } => event_time,
            WindowAssigner::Global => false,
        }
    }

    /// Whether windows merge (sessions).
    pub fn is_merging(&self) -> bool {
        matches!(self, WindowAssigner::Session { .. })
    }

    /// The windows of an element with timestamp `ts`.
    pub fn assign(&self, ts: i64) -> Vec<TimeWindow> {
        let mut out = Vec::new();
        self.assign_into(ts, &mut out);
        out
    }

    /// Like [`assign`](Self::assign), into a reused buffer (no allocation per element).
    pub fn assign_into(&self, ts: i64, out: &mut Vec<TimeWindow>) {
        out.clear();
        match *self {
            WindowAssigner::Tumbling { size, offset, .. } => {
                let start = window_start(ts, offset, size);
                out.push(TimeWindow::new(start, start + size));
            }
            WindowAssigner::Sliding {
                size, slide, offset, ..
            } => {
                let mut start = window_start(ts, offset, slide);
                while start > ts - size {
                    out.push(TimeWindow::new(start, start + size));
                    start -= slide;
                }
            }
            WindowAssigner::Session { gap, .. } => out.push(TimeWindow::new(ts, ts + gap)),
            WindowAssigner::Global => out.push(TimeWindow::global()),
        }
    }

    /// Sets the offset of tumbling or sliding windows (e.g. for time zones).
    pub fn with_offset(self, offset: Duration) -> Self {
        let o = ms(offset);
        match self {
            WindowAssigner::Tumbling { size, event_time, .. } => WindowAssigner::Tumbling {
                size,
                offset: o.rem_euclid(size),
                event_time,
            },
            WindowAssigner::Sliding {
                size,
                slide,
                event_time,
                ..
            } => WindowAssigner::Sliding {
                size,
                slide,
                offset: o.rem_euclid(slide),
                event_time,
            },
            s => s,
        }
    }
}

fn ms(d: Duration) -> i64 {
    (d.as_millis() as i64).max(1)
}

macro_rules! assigner_type {
    ($(#[$doc:meta])* $name:ident, $event:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
    };
}

/// The global window: one window per key, fired by a trigger only (Flink's `GlobalWindows`).
#[derive(Debug)]
pub struct GlobalWindows;

impl GlobalWindows {
    /// The global window assigner.
    pub fn create() -> WindowAssigner {
        WindowAssigner::Global
    }
}

assigner_type!(
    /// Tumbling windows in event time.
    TumblingEventTimeWindows,
    true
);
assigner_type!(
    /// Tumbling windows in processing time.
    TumblingProcessingTimeWindows,
    false
);
assigner_type!(
    /// Sliding windows in event time.
    SlidingEventTimeWindows,
    true
);
assigner_type!(
    /// Sliding windows in processing time.
    SlidingProcessingTimeWindows,
    false
);
assigner_type!(
    /// Session windows in event time.
    EventTimeSessionWindows,
    true
);
assigner_type!(
    /// Session windows in processing time.
    ProcessingTimeSessionWindows,
    false
);

impl TumblingEventTimeWindows {
    /// Windows of `size`.
    pub fn of(size: Duration) -> WindowAssigner {
        WindowAssigner::Tumbling {
            size: ms(size),
            offset: 0,
            event_time: true,
        }
    }
}
impl TumblingProcessingTimeWindows {
    /// Windows of `size`.
    pub fn of(size: Duration) -> WindowAssigner {
        WindowAssigner::Tumbling {
            size: ms(size),
            offset: 0,
            event_time: false,
        }
    }
}
impl SlidingEventTimeWindows {
    /// Windows of `size` starting every `slide`.
    pub fn of(size: Duration, slide: Duration) -> WindowAssigner {
        WindowAssigner::Sliding {
            size: ms(size),
            slide: ms(slide),
            offset: 0,
            event_time: true,
        }
    }
}
impl SlidingProcessingTimeWindows {
    /// Windows of `size` starting every `slide`.
    pub fn of(size: Duration, slide: Duration) -> WindowAssigner {
        WindowAssigner::Sliding {
            size: ms(size),
            slide: ms(slide),
            offset: 0,
            event_time: false,
        }
    }
}
impl EventTimeSessionWindows {
    /// Sessions closed by a gap of `gap` without elements.
    pub fn with_gap(gap: Duration) -> WindowAssigner {
        WindowAssigner::Session {
            gap: ms(gap),
            event_time: true,
        }
    }
}
impl ProcessingTimeSessionWindows {
    /// Sessions closed by a gap of `gap` without elements.
    pub fn with_gap(gap: Duration) -> WindowAssigner {
        WindowAssigner::Session {
            gap: ms(gap),
            event_time: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tumbling_windows_hold_their_timestamps_including_negative_ones() {
        let a = TumblingEventTimeWindows::of(Duration::from_millis(1000));
        assert_eq!(a.assign(0), [TimeWindow::new(0, 1000)]);
        assert_eq!(a.assign(999), [TimeWindow::new(0, 1000)]);
        assert_eq!(a.assign(1000), [TimeWindow::new(1000, 2000)]);
        assert_eq!(a.assign(-1), [TimeWindow::new(-1000, 0)]);
        let off = a.with_offset(Duration::from_millis(250));
        assert_eq!(off.assign(100), [TimeWindow::new(-750, 250)]);
    }

    #[test]
    fn sliding_windows_cover_each_timestamp_size_over_slide_times() {
        let a = SlidingEventTimeWindows::of(Duration::from_millis(1000), Duration::from_millis(250));
        let w = a.assign(1100);
        assert_eq!(w.len(), 4);
        assert!(w.iter().all(|w| w.start <= 1100 && 1100 < w.end));
        assert_eq!(w[0], TimeWindow::new(1000, 2000));
        assert_eq!(w[3], TimeWindow::new(250, 1250));
    }

    #[test]
    fn sessions_intersect_and_cover() {
        let a = TimeWindow::new(0, 500);
        let b = TimeWindow::new(500, 900);
        let c = TimeWindow::new(901, 1000);
        assert!(a.intersects(&b) && !b.intersects(&c));
        assert_eq!(a.cover(&b), TimeWindow::new(0, 900));
        assert_eq!(TimeWindow::new(0, 1000).max_timestamp(), 999);
    }
}

/// When a window emits its result (Flink's triggers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The default of time windows: when time passes the window's end (event or processing time,
    /// following the assigner), and again for each late element within the allowed lateness.
    Time,
    /// Every `n` elements of a key in a window (Flink's `CountTrigger`); not at the window's end.
    Count(u64),
    /// Like the inner trigger, and the window's contents are cleared after each firing (Flink's
    /// `PurgingTrigger`).
    Purging(Box<Trigger>),
}

impl Trigger {
    /// Fires every `n` elements.
    pub fn count(n: u64) -> Trigger {
        Trigger::Count(n.max(1))
    }

    /// Purges the window after each firing of `inner`.
    pub fn purging(inner: Trigger) -> Trigger {
        match inner {
            Trigger::Purging(t) => Trigger::Purging(t),
            t => Trigger::Purging(Box::new(t)),
        }
    }

    pub(crate) fn fires_on_time(&self) -> bool {
        match self {
            Trigger::Time => true,
            Trigger::Count(_) => false,
            Trigger::Purging(t) => t.fires_on_time(),
        }
    }

    pub(crate) fn count_limit(&self) -> Option<u64> {
        match self {
            Trigger::Time => None,
            Trigger::Count(n) => Some(*n),
            Trigger::Purging(t) => t.count_limit(),
        }
    }

    pub(crate) fn purges(&self) -> bool {
        matches!(self, Trigger::Purging(_))
    }
}
