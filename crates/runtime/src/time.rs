//! Event time inside a task.
//!
//! A record's event timestamp travels beside it, not inside it: while a task pushes a record
//! through its chain, the record's timestamp is the thread's *current timestamp*. Operators that
//! emit records derived from their input therefore keep the input's timestamp without doing
//! anything (Flink's semantics); operators that emit new results (windows) set it first. Record
//! writers read it for every record they batch, and the consumer's input loop sets it again for
//! every record it pushes, so timestamps cross exchanges.
//!
//! Watermarks, idleness and the end of input travel as [`StreamEvent`]s through
//! [`Output::emit_event`](crate::Output::emit_event).

use serde::{Deserialize, Serialize};
use std::cell::Cell;

/// No timestamp.
pub const NO_TIMESTAMP: i64 = i64::MIN;
/// The watermark that ends event time: every event-time window and timer fires.
pub const MAX_WATERMARK: i64 = i64::MAX;

thread_local! {
    static CURRENT: Cell<i64> = const { Cell::new(NO_TIMESTAMP) };
}

/// The timestamp of the record being processed on this thread, if it has one.
#[inline]
pub fn current_timestamp() -> Option<i64> {
    let t = CURRENT.with(Cell::get);
    (t != NO_TIMESTAMP).then_some(t)
}

/// The raw current timestamp ([`NO_TIMESTAMP`] when none).
#[inline]
pub fn current_timestamp_raw() -> i64 {
    CURRENT.with(Cell::get)
}

/// Sets the timestamp of the records emitted next on this thread.
#[inline]
pub fn set_current_timestamp(ts: i64) {
    CURRENT.with(|c| c.set(ts));
}

/// Milliseconds since the Unix epoch: processing time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A control event that flows in-band with the records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamEvent {
    /// No record with a timestamp at or below this value will follow.
    Watermark(i64),
    /// The producer is idle: it holds no watermark back until it emits again.
    Idle,
    /// A checkpoint barrier: everything before it belongs to checkpoint `n`, everything after
    /// it to later ones. Never reaches [`Operator::process_event`](crate::Operator::process_event).
    Barrier(u64),
}
