//! The hand-written single-threaded tumbling event-time window count that the engine's
//! `window_bench` example (`examples/window_bench.rs`) is measured against
//! (`scripts/bench-windows.sh`).
//!
//! Both sides generate the same events from their index `i` ([`event`]; the example carries an
//! identical copy, since `spate-examples` cannot depend on this crate) and count them per key and
//! tumbling window with Flink's semantics: a window fires when the watermark (highest timestamp
//! seen − out-of-orderness − 1 ms, emitted periodically) reaches its last timestamp; the end of
//! the input fires every remaining window. The generated disorder stays below the bound, so no
//! event is late and the results do not depend on when watermarks are emitted: both sides must
//! report the same number of results, the same total count and the same [`result_hash`] sum.

use rustc_hash::FxHashMap;

/// Event time of event 0, in ms (an ordinary epoch timestamp).
pub const BASE_TS: i64 = 1_700_000_000_000;

/// What the generated stream and the windows look like.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Number of distinct keys (keys are `0..keys`).
    pub keys: u64,
    /// Events per millisecond of event time (the stream's event-time rate).
    pub events_per_ms: u64,
    /// Bound of out-of-orderness in ms; every event is at most `bound_ms - 1` ms behind.
    pub bound_ms: u64,
    /// Size of the tumbling windows in ms.
    pub window_ms: i64,
    /// Seed of the key and jitter hash.
    pub seed: u64,
}

/// SplitMix64's finalizer: a cheap, good 64-bit mix.
#[inline]
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Event `i`: `(key, timestamp_ms)`. The timestamp advances by 1 ms every `events_per_ms` events
/// and is pulled back by a pseudo-random jitter in `0..bound_ms` (the disorder).
#[inline]
pub fn event(i: u64, p: &Params) -> (u64, i64) {
    let h = mix(i ^ p.seed);
    let key = h % p.keys;
    let jitter = if p.bound_ms == 0 {
        0
    } else {
        (h >> 40) % p.bound_ms
    };
    (key, BASE_TS + (i / p.events_per_ms) as i64 - jitter as i64)
}

/// The hash of one result `(key, window_start, count)`; results are checked by the wrapping sum
/// of their hashes (independent of order).
#[inline]
pub fn result_hash(key: u64, window_start: i64, count: u64) -> u64 {
    mix(mix(key ^ mix(window_start as u64)) ^ count)
}

/// Start of the tumbling window of `size` ms holding `ts` (Flink's formula, offset 0).
#[inline]
pub fn window_start(ts: i64, size: i64) -> i64 {
    ts - ts.rem_euclid(size)
}

/// What a run produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events read.
    pub events: u64,
    /// Results (one per key and window).
    pub results: u64,
    /// Sum of the counts of all results.
    pub total: u64,
    /// Wrapping sum of [`result_hash`] over the results.
    pub checksum: u64,
    /// Events that arrived after their window fired (must be 0 for these streams).
    pub late: u64,
}

/// Events between two periodic watermarks of the baseline (the engine emits them every
/// `pipeline.auto-watermark-interval` of wall time instead; the results are the same).
pub const WATERMARK_EVERY: u64 = 4096;

/// Counts events `0..n` per key and tumbling window on this thread.
///
/// Open windows are kept in a short vector ordered by start (with bounded disorder only a few are
/// open at once), each an `FxHashMap<key, count>`; maps of fired windows are cleared and reused.
pub fn run(n: u64, p: &Params) -> Summary {
    let size = p.window_ms;
    let mut open: Vec<(i64, FxHashMap<u64, u64>)> = Vec::new();
    let mut spare: Vec<FxHashMap<u64, u64>> = Vec::new();
    let mut s = Summary {
        events: n,
        ..Summary::default()
    };
    let mut max_ts = i64::MIN;
    let mut watermark = i64::MIN;
    // The window of the previous event: most events fall into it.
    let mut last: usize = usize::MAX;
    let mut last_start = i64::MIN;

    let fire = |open: &mut Vec<(i64, FxHashMap<u64, u64>)>,
                spare: &mut Vec<FxHashMap<u64, u64>>,
                s: &mut Summary,
                watermark: i64| {
        let due = open
            .iter()
            .take_while(|(start, _)| start.saturating_add(size - 1) <= watermark)
            .count();
        for (start, mut counts) in open.drain(..due) {
            for (&k, &c) in &counts {
                s.results += 1;
                s.total += c;
                s.checksum = s.checksum.wrapping_add(result_hash(k, start, c));
            }
            counts.clear();
            spare.push(counts);
        }
        due > 0
    };

    for i in 0..n {
        let (key, ts) = event(i, p);
        max_ts = max_ts.max(ts);
        let start = window_start(ts, size);
        if start != last_start {
            if start.saturating_add(size - 1) <= watermark {
                s.late += 1;
                continue;
            }
            last = match open.binary_search_by_key(&start, |(st, _)| *st) {
                Ok(pos) => pos,
                Err(pos) => {
                    open.insert(pos, (start, spare.pop().unwrap_or_default()));
                    pos
                }
            };
            last_start = start;
        }
        *open[last].1.entry(key).or_insert(0) += 1;
        if i % WATERMARK_EVERY == WATERMARK_EVERY - 1 {
            let w = max_ts.saturating_sub(p.bound_ms as i64 + 1);
            if w > watermark {
                watermark = w;
                if fire(&mut open, &mut spare, &mut s, watermark) {
                    last_start = i64::MIN;
                }
            }
        }
    }
    // The end of the input is the final watermark.
    fire(&mut open, &mut spare, &mut s, i64::MAX);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params {
            keys: 50,
            events_per_ms: 10,
            bound_ms: 20,
            window_ms: 100,
            seed: 7,
        }
    }

    #[test]
    fn events_stay_within_the_bound() {
        let p = params();
        let mut max = i64::MIN;
        for i in 0..100_000 {
            let (k, ts) = event(i, &p);
            assert!(k < p.keys);
            max = max.max(ts);
            assert!(ts > max - p.bound_ms as i64, "event {i} too late");
        }
    }

    #[test]
    fn the_loop_counts_like_a_plain_map() {
        let p = params();
        let n = 123_457;
        let s = run(n, &p);
        let mut all: FxHashMap<(u64, i64), u64> = FxHashMap::default();
        for i in 0..n {
            let (k, ts) = event(i, &p);
            *all.entry((k, window_start(ts, p.window_ms))).or_default() += 1;
        }
        let checksum = all
            .iter()
            .fold(0u64, |a, (&(k, w), &c)| a.wrapping_add(result_hash(k, w, c)));
        assert_eq!(s.late, 0);
        assert_eq!(s.total, n);
        assert_eq!(s.results, all.len() as u64);
        assert_eq!(s.checksum, checksum);
    }
}
