//! Handing out file splits to readers: local splits first, with delay scheduling.
//!
//! A reader on host H that asks for work gets, in this order:
//!
//! 1. a split with a replica on H (of those, the one with the fewest live readers on its other
//!    hosts, so the splits others could read locally stay for them);
//! 2. when none is left for H, a split that no live reader could read locally: one whose hosts
//!    have no live reader, or whose location is unknown;
//! 3. otherwise [`SplitAssignment::Wait`]: the reader asks again shortly, while the readers on the
//!    splits' own hosts take them. Once a reader has waited the *locality wait*
//!    (`source.split.locality-wait`, default 3 s, like Spark's `spark.locality.wait`; the
//!    runtime passes the job's configuration to [`SplitEnumerator::configure`]), it takes any split,
//!    and keeps doing so without waiting until it next gets a local split (as Spark's task sets
//!    stay at a relaxed locality level).
//!
//! Remote splits go preferring the fewest live local candidates, then the fewest hosts, then the
//! host with the most splits left (so a reader that gave up waiting relieves the busiest host).
//!
//! A reader is *live* when it holds a split (it will ask again) or asked within the locality wait.
//! Hosts with no reader never delay anyone. Until every reader (one per subtask) has asked once,
//! any host may still get one, so rule 2 waits for that too (a few milliseconds when readers start
//! together; at most the locality wait). Readers with no host take any split at once, as before.

use super::split::FsSplit;
use spate_common::config::{keys, Configuration};
use spate_runtime::source::{SplitAssignment, SplitEnumerator, SplitStats};
use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// The default of `source.split.locality-wait`.
pub fn default_locality_wait() -> Duration {
    Configuration::default().get(&keys::SPLIT_LOCALITY_WAIT)
}

/// What the enumerator knows about the reader of one subtask.
#[derive(Debug)]
struct Reader {
    host: Option<String>,
    /// When it last asked.
    last_ask: Instant,
    /// It got a split at its last request (and will ask again).
    holds_split: bool,
    /// It ended (no splits were left).
    done: bool,
    /// Since when it has had no local split to take (cleared when it gets a local split).
    without_local_since: Option<Instant>,
}

/// Hands out splits, a reader on a known host first getting a split stored there (see the module
/// docs for the order and the delay).
pub struct LocalityEnumerator {
    /// The splits not handed out, in planning order.
    splits: Vec<FsSplit>,
    stats: SplitStats,
    locality_wait: Duration,
    /// The wait was set with [`LocalityEnumerator::with_locality_wait`] (the configuration does
    /// not override it).
    wait_is_explicit: bool,
    /// Readers expected (the parallelism); 0 when unknown.
    expected_readers: u32,
    readers: HashMap<u32, Reader>,
}

impl LocalityEnumerator {
    /// Hands out `splits` with the default locality wait, not knowing how many readers come.
    pub fn new(splits: Vec<FsSplit>) -> Self {
        LocalityEnumerator {
            splits,
            stats: SplitStats::default(),
            locality_wait: default_locality_wait(),
            wait_is_explicit: false,
            expected_readers: 0,
            readers: HashMap::new(),
        }
    }

    /// How long a split may wait for a reader on its host (zero: never wait), whatever
    /// `source.split.locality-wait` says.
    pub fn with_locality_wait(mut self, wait: Duration) -> Self {
        self.locality_wait = wait;
        self.wait_is_explicit = true;
        self
    }

    /// `parallelism` readers (subtasks 0..parallelism) will ask.
    pub fn with_readers(mut self, parallelism: u32) -> Self {
        self.expected_readers = parallelism;
        self
    }

    /// [`SplitEnumerator::assign`] at time `now` (the clock is a parameter for tests).
    fn assign_at(&mut self, subtask: u32, host: Option<&str>, now: Instant) -> SplitAssignment<FsSplit> {
        let reader = self.readers.entry(subtask).or_insert_with(|| Reader {
            host: None,
            last_ask: now,
            holds_split: false,
            done: false,
            without_local_since: None,
        });
        reader.host = host.map(str::to_owned);
        reader.last_ask = now;
        reader.holds_split = false;
        if self.splits.is_empty() {
            reader.done = true;
            return SplitAssignment::NoMoreSplits;
        }
        let live = self.live_hosts(now);
        let picked = match host {
            None => self.best_remote(&live, |_| true).map(|i| (i, false)),
            Some(h) => match self.best_local(h, &live) {
                Some(i) => Some((i, true)),
                None => {
                    let reader = self.readers.get_mut(&subtask).expect("registered above");
                    let since = *reader.without_local_since.get_or_insert(now);
                    let waited_out = now.saturating_duration_since(since) >= self.locality_wait;
                    let all_asked =
                        self.expected_readers == 0 || self.readers.len() >= self.expected_readers as usize;
                    self.best_remote(&live, |s| {
                        waited_out
                            || s.hosts.is_empty()
                            || (all_asked && s.hosts.iter().all(|x| !live.contains(x.as_str())))
                    })
                    .map(|i| (i, false))
                }
            },
        };
        let Some((index, local)) = picked else {
            return SplitAssignment::Wait;
        };
        let reader = self.readers.get_mut(&subtask).expect("registered above");
        reader.holds_split = true;
        if local {
            reader.without_local_since = None;
        }
        SplitAssignment::Split(self.take(index, local))
    }

    /// Hosts with a live reader: one that holds a split or asked within the locality wait.
    fn live_hosts(&self, now: Instant) -> HashSet<String> {
        self.readers
            .values()
            .filter(|r| {
                !r.done && (r.holds_split || now.saturating_duration_since(r.last_ask) <= self.locality_wait)
            })
            .filter_map(|r| r.host.clone())
            .collect()
    }

    /// Live readers that could read `split` locally.
    fn candidates(split: &FsSplit, live: &HashSet<String>) -> usize {
        split.hosts.iter().filter(|h| live.contains(h.as_str())).count()
    }

    /// The split stored on `host` with the fewest other live readers and hosts.
    fn best_local(&self, host: &str, live: &HashSet<String>) -> Option<usize> {
        (0..self.splits.len())
            .filter(|&i| self.splits[i].hosts.iter().any(|x| x == host))
            .min_by_key(|&i| {
                let s = &self.splits[i];
                (Self::candidates(s, live), s.hosts.len())
            })
    }

    /// Of the splits `eligible` allows, the one with the fewest live local candidates, then the
    /// fewest hosts, then the most splits left on its busiest host.
    fn best_remote(&self, live: &HashSet<String>, eligible: impl Fn(&FsSplit) -> bool) -> Option<usize> {
        let mut backlog: HashMap<&str, usize> = HashMap::new();
        for s in &self.splits {
            for h in &s.hosts {
                *backlog.entry(h.as_str()).or_default() += 1;
            }
        }
        (0..self.splits.len())
            .filter(|&i| eligible(&self.splits[i]))
            .min_by_key(|&i| {
                let s = &self.splits[i];
                let busiest = s.hosts.iter().map(|h| backlog[h.as_str()]).max().unwrap_or(0);
                (Self::candidates(s, live), s.hosts.len(), Reverse(busiest))
            })
    }

    /// Removes split `index` and counts it.
    fn take(&mut self, index: usize, local: bool) -> FsSplit {
        let split = self.splits.remove(index);
        let bytes = split.end.saturating_sub(split.start);
        if local {
            self.stats.local_splits += 1;
            self.stats.local_bytes += bytes;
        } else {
            self.stats.remote_splits += 1;
            self.stats.remote_bytes += bytes;
        }
        split
    }
}

impl SplitEnumerator<FsSplit> for LocalityEnumerator {
    /// A split stored on `host` if any is left, otherwise the best remote one, never waiting.
    fn next_split(&mut self, _subtask: u32, host: Option<&str>) -> Option<FsSplit> {
        let live = HashSet::new();
        let local = host.and_then(|h| self.best_local(h, &live));
        let (index, local) = match local {
            Some(i) => (i, true),
            None => (self.best_remote(&live, |_| true)?, false),
        };
        Some(self.take(index, local))
    }
    fn assign(&mut self, subtask: u32, host: Option<&str>) -> SplitAssignment<FsSplit> {
        self.assign_at(subtask, host, Instant::now())
    }
    /// Takes the locality wait from `source.split.locality-wait` (unless set explicitly).
    fn configure(&mut self, config: &Configuration) {
        if !self.wait_is_explicit {
            self.locality_wait = config.get(&keys::SPLIT_LOCALITY_WAIT);
        }
    }
    fn assignment_stats(&self) -> Option<SplitStats> {
        Some(self.stats)
    }
    /// Bytes of the splits left per host that stores them, most bytes first.
    fn pending_split_hosts(&self) -> Vec<(String, u64)> {
        let mut bytes: HashMap<&str, u64> = HashMap::new();
        for s in &self.splits {
            for h in &s.hosts {
                *bytes.entry(h.as_str()).or_default() += s.end.saturating_sub(s.start);
            }
        }
        let mut out: Vec<(String, u64)> = bytes.into_iter().map(|(h, b)| (h.to_string(), b)).collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
    fn add_splits_back(&mut self, splits: Vec<FsSplit>) {
        self.splits.extend(splits);
    }
    /// The splits not handed out, with their hosts: restored with
    /// [`LocalityEnumerator::new`] they go local-first again.
    fn snapshot_state(&self) -> spate_runtime::Result<Vec<FsSplit>> {
        Ok(self.splits.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(3);

    fn split(start: u64, hosts: &[&str]) -> FsSplit {
        FsSplit::new(
            "hdfs://nn:1/f",
            start,
            start + 10,
            hosts.iter().map(|h| h.to_string()).collect(),
        )
    }

    /// The start of the split assigned, `Some(None)` for Wait, `None` for no more splits.
    fn ask(
        e: &mut LocalityEnumerator,
        subtask: u32,
        host: Option<&str>,
        now: Instant,
    ) -> Option<Option<u64>> {
        match e.assign_at(subtask, host, now) {
            SplitAssignment::Split(s) => Some(Some(s.start)),
            SplitAssignment::Wait => Some(None),
            SplitAssignment::NoMoreSplits => None,
        }
    }

    fn enumerator(splits: Vec<FsSplit>, readers: u32) -> LocalityEnumerator {
        LocalityEnumerator::new(splits)
            .with_locality_wait(WAIT)
            .with_readers(readers)
    }

    #[test]
    fn pending_split_hosts_sum_the_bytes_left_per_host() {
        let mut e = enumerator(
            vec![split(0, &["a"]), split(100, &["a", "b"]), split(200, &["c"])],
            2,
        );
        let bytes = |s: &FsSplit| s.end - s.start;
        let per = bytes(&split(0, &["a"]));
        assert_eq!(
            e.pending_split_hosts(),
            vec![("a".into(), 2 * per), ("b".into(), per), ("c".into(), per)]
        );
        let _ = e.next_split(0, Some("c"));
        assert!(e.pending_split_hosts().iter().all(|(h, _)| h != "c"));
    }

    #[test]
    fn next_split_takes_local_splits_first_then_the_fewest_hosts() {
        let mut e = LocalityEnumerator::new(vec![
            split(0, &["a", "b", "c"]),
            split(10, &["b"]),
            split(20, &["a", "c"]),
        ]);
        // Host "d" stores nothing: it gets the split that only "b" could read locally.
        assert_eq!(e.next_split(0, Some("d")).map(|s| s.start), Some(10));
        // Of c's local splits, the one fewer other hosts could read.
        assert_eq!(e.next_split(0, Some("c")).map(|s| s.start), Some(20));
        assert_eq!(e.next_split(0, Some("d")).map(|s| s.start), Some(0));
        assert_eq!(e.next_split(0, Some("d")), None);
        let stats = e.assignment_stats().unwrap();
        assert_eq!((stats.local_splits, stats.remote_splits), (1, 2));
        assert_eq!((stats.local_bytes, stats.remote_bytes), (10, 20));
    }

    #[test]
    fn a_reader_without_local_splits_waits_while_the_owner_is_live() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut e = enumerator(vec![split(0, &["a"]), split(10, &["a"]), split(20, &["b"])], 2);
        assert_eq!(ask(&mut e, 0, Some("a"), at(0)), Some(Some(0)));
        assert_eq!(ask(&mut e, 1, Some("b"), at(1)), Some(Some(20)));
        // b has nothing local left; a's reader holds a split and will want the rest.
        assert_eq!(ask(&mut e, 1, Some("b"), at(100)), Some(None));
        assert_eq!(ask(&mut e, 1, Some("b"), at(2000)), Some(None));
        assert_eq!(ask(&mut e, 0, Some("a"), at(2100)), Some(Some(10)));
        assert_eq!(ask(&mut e, 1, Some("b"), at(2200)), None);
        assert_eq!(ask(&mut e, 0, Some("a"), at(2300)), None);
        let stats = e.assignment_stats().unwrap();
        assert_eq!((stats.local_splits, stats.remote_splits), (3, 0));
    }

    #[test]
    fn a_reader_that_waited_out_the_wait_takes_remote_splits_until_it_gets_a_local_one() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut e = enumerator(
            vec![
                split(0, &["a"]),
                split(10, &["a"]),
                split(20, &["a"]),
                split(30, &["b"]),
            ],
            2,
        );
        assert_eq!(ask(&mut e, 0, Some("a"), at(0)), Some(Some(0)));
        assert_eq!(ask(&mut e, 1, Some("b"), at(0)), Some(Some(30)));
        assert_eq!(ask(&mut e, 1, Some("b"), at(10)), Some(None));
        assert_eq!(ask(&mut e, 1, Some("b"), at(3009)), Some(None));
        // Waited 3 s: takes a's split; from then on without waiting.
        assert_eq!(ask(&mut e, 1, Some("b"), at(3010)), Some(Some(10)));
        assert_eq!(ask(&mut e, 1, Some("b"), at(3020)), Some(Some(20)));
        assert_eq!(ask(&mut e, 0, Some("a"), at(3030)), None);
        let stats = e.assignment_stats().unwrap();
        assert_eq!((stats.local_splits, stats.remote_splits), (2, 2));
        assert_eq!((stats.local_bytes, stats.remote_bytes), (20, 20));
    }

    #[test]
    fn hosts_without_a_live_reader_delay_no_one() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // Readers only on "a": the other splits go at once, those of unknown location first, then
        // the busiest host's.
        let mut e = enumerator(
            vec![
                split(0, &["a"]),
                split(10, &["c"]),
                split(20, &["b"]),
                split(30, &["b"]),
                split(40, &[]),
            ],
            2,
        );
        assert_eq!(ask(&mut e, 0, Some("a"), at(0)), Some(Some(0)));
        assert_eq!(ask(&mut e, 1, Some("a"), at(0)), Some(Some(40)));
        assert_eq!(ask(&mut e, 1, Some("a"), at(1)), Some(Some(20)));
        assert_eq!(ask(&mut e, 0, Some("a"), at(2)), Some(Some(10)));
        assert_eq!(ask(&mut e, 0, Some("a"), at(3)), Some(Some(30)));
        assert_eq!(ask(&mut e, 0, Some("a"), at(4)), None);
        // A reader that asked long ago and holds nothing is no longer live.
        let mut e = enumerator(vec![split(0, &["a"]), split(10, &["b"]), split(20, &["b"])], 2);
        assert_eq!(ask(&mut e, 0, Some("b"), at(0)), Some(Some(10)));
        assert_eq!(ask(&mut e, 1, Some("a"), at(0)), Some(Some(0)));
        // b's reader still holds its split: a waits.
        assert_eq!(ask(&mut e, 1, Some("a"), at(10)), Some(None));
        // A reader on "b" that asked a while ago and holds nothing (it is gone) stops delaying "a"
        // once the locality wait has passed since its request.
        let mut e = enumerator(vec![split(0, &["b"]), split(10, &["b"])], 2);
        e.readers.insert(
            0,
            Reader {
                host: Some("b".into()),
                last_ask: at(0),
                holds_split: false,
                done: false,
                without_local_since: None,
            },
        );
        assert_eq!(ask(&mut e, 1, Some("a"), at(100)), Some(None));
        assert_eq!(ask(&mut e, 1, Some("a"), at(3001)), Some(Some(0)));
    }

    #[test]
    fn until_every_reader_asked_any_host_may_get_one() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut e = enumerator(vec![split(0, &["a"]), split(10, &["b"])], 2);
        // Reader 1 (on "b", say) has not asked yet: "a" leaves b's split alone.
        assert_eq!(ask(&mut e, 0, Some("a"), at(0)), Some(Some(0)));
        assert_eq!(ask(&mut e, 0, Some("a"), at(20)), Some(None));
        assert_eq!(ask(&mut e, 1, Some("b"), at(40)), Some(Some(10)));
        // With everyone known, a host nobody is on delays no one.
        let mut e = enumerator(vec![split(0, &["c"]), split(10, &["c"])], 2);
        assert_eq!(ask(&mut e, 0, Some("a"), at(0)), Some(None));
        assert_eq!(ask(&mut e, 1, Some("b"), at(1)), Some(Some(0)));
        assert_eq!(ask(&mut e, 0, Some("a"), at(2)), Some(Some(10)));
        // ... and not knowing the parallelism never delays.
        let mut e = LocalityEnumerator::new(vec![split(0, &["c"])]).with_locality_wait(WAIT);
        assert_eq!(ask(&mut e, 0, Some("a"), at(0)), Some(Some(0)));
    }

    #[test]
    fn a_restored_enumerator_keeps_the_splits_and_their_locality() {
        let mut e = LocalityEnumerator::new(vec![split(0, &["a"]), split(10, &["b"]), split(20, &["a"])]);
        assert_eq!(e.next_split(0, Some("b")).map(|s| s.start), Some(10));
        let left = e.snapshot_state().unwrap();
        assert_eq!(left, [split(0, &["a"]), split(20, &["a"])]);
        let mut restored = LocalityEnumerator::new(left)
            .with_locality_wait(WAIT)
            .with_readers(2);
        let t0 = Instant::now();
        // A reader on "b" waits while the reader on "a" (which stores both) is live.
        assert_eq!(ask(&mut restored, 0, Some("a"), t0), Some(Some(0)));
        assert_eq!(ask(&mut restored, 1, Some("b"), t0), Some(None));
        assert_eq!(ask(&mut restored, 0, Some("a"), t0), Some(Some(20)));
        let stats = restored.assignment_stats().unwrap();
        assert_eq!((stats.local_splits, stats.remote_splits), (2, 0));
    }

    #[test]
    fn the_wait_comes_from_the_configuration_unless_set() {
        let mut config = Configuration::default();
        config.set_str("source.split.locality-wait", "250ms").unwrap();
        let mut e = LocalityEnumerator::new(vec![]);
        assert_eq!(e.locality_wait, Duration::from_secs(3));
        e.configure(&config);
        assert_eq!(e.locality_wait, Duration::from_millis(250));
        let mut e = LocalityEnumerator::new(vec![]).with_locality_wait(WAIT);
        e.configure(&config);
        assert_eq!(e.locality_wait, WAIT);
    }

    #[test]
    fn readers_without_a_host_and_a_zero_wait_never_wait() {
        let t0 = Instant::now();
        let mut e = enumerator(vec![split(0, &["a"]), split(10, &["a"])], 2);
        assert_eq!(ask(&mut e, 0, Some("a"), t0), Some(Some(0)));
        assert_eq!(ask(&mut e, 1, None, t0), Some(Some(10)));
        assert_eq!(ask(&mut e, 1, None, t0), None);
        let mut e =
            enumerator(vec![split(0, &["a"]), split(10, &["a"])], 2).with_locality_wait(Duration::ZERO);
        assert_eq!(ask(&mut e, 0, Some("a"), t0), Some(Some(0)));
        assert_eq!(ask(&mut e, 1, Some("b"), t0), Some(Some(10)));
        let stats = e.assignment_stats().unwrap();
        assert_eq!((stats.local_splits, stats.remote_splits), (1, 1));
    }
}
