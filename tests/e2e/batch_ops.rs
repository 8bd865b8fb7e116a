//! Each batch operation against results computed directly in the test.

use spate::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

type L = (u32, String);
type R = (u32, i64);

fn env(p: u32) -> StreamEnv {
    let env = StreamEnv::local();
    env.set_parallelism(p);
    env
}

/// Left keys 0..30 (some repeated), right keys 20..50: keys on one side only, and many-to-many.
fn inputs() -> (Vec<L>, Vec<R>) {
    let left: Vec<L> = (0..40).map(|i| (i % 30, format!("l{i}"))).collect();
    let right: Vec<R> = (0..45).map(|i| (20 + i % 30, i64::from(i) * 10)).collect();
    (left, right)
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[test]
fn inner_and_outer_joins_match_nested_loops() {
    let (left, right) = inputs();
    let mut inner = Vec::new();
    let mut left_outer = Vec::new();
    let mut right_outer = Vec::new();
    let mut full = Vec::new();
    for l in &left {
        let matches: Vec<&R> = right.iter().filter(|r| r.0 == l.0).collect();
        for r in &matches {
            inner.push((l.clone(), **r));
        }
        if matches.is_empty() {
            left_outer.push((l.clone(), None));
            full.push((Some(l.clone()), None));
        }
    }
    for r in &right {
        if !left.iter().any(|l| l.0 == r.0) {
            right_outer.push((None, *r));
            full.push((None, Some(*r)));
        }
    }
    left_outer.extend(inner.iter().map(|(l, r)| (l.clone(), Some(*r))));
    right_outer.extend(inner.iter().map(|(l, r)| (Some(l.clone()), *r)));
    full.extend(inner.iter().map(|(l, r)| (Some(l.clone()), Some(*r))));
    assert!(
        left_outer.iter().any(|(_, r)| r.is_none()),
        "test data has unmatched left keys"
    );
    assert!(
        right_outer.iter().any(|(l, _)| l.is_none()),
        "test data has unmatched right keys"
    );

    for p in [1, 3] {
        let env = env(p);
        let ls = env.from_collection(left.clone());
        let rs = env.from_collection(right.clone());
        let kl = |l: &L| l.0;
        let kr = |r: &R| r.0;
        let j = ls.join(&rs, kl, kr).collect();
        let lo = ls.left_outer_join(&rs, kl, kr).collect();
        let ro = ls.right_outer_join(&rs, kl, kr).collect();
        let fo = ls.full_outer_join(&rs, kl, kr).collect();
        env.execute("joins").unwrap();
        assert_eq!(sorted(j.take()), sorted(inner.clone()), "inner, p={p}");
        assert_eq!(sorted(lo.take()), sorted(left_outer.clone()), "left outer, p={p}");
        assert_eq!(
            sorted(ro.take()),
            sorted(right_outer.clone()),
            "right outer, p={p}"
        );
        assert_eq!(sorted(fo.take()), sorted(full.clone()), "full outer, p={p}");
    }
}

#[test]
fn co_group_sees_keys_present_on_one_side_only() {
    let (left, right) = inputs();
    let mut expected = BTreeMap::new();
    for l in &left {
        expected.entry(l.0).or_insert((0usize, 0usize)).0 += 1;
    }
    for r in &right {
        expected.entry(r.0).or_insert((0, 0)).1 += 1;
    }
    let env = env(2);
    let got = env
        .from_collection(left)
        .co_group(
            &env.from_collection(right),
            |l: &L| l.0,
            |r: &R| r.0,
            |k: &u32, ls: Vec<L>, rs: Vec<R>, out: &mut dyn Collector<(u32, usize, usize)>| {
                out.collect((*k, ls.len(), rs.len()))
            },
        )
        .collect();
    env.execute("co_group").unwrap();
    let got: BTreeMap<u32, (usize, usize)> = got.take().into_iter().map(|(k, a, b)| (k, (a, b))).collect();
    assert_eq!(got, expected);
    assert!(got.values().any(|(a, b)| *a == 0 && *b > 0) && got.values().any(|(a, b)| *a > 0 && *b == 0));
}

#[test]
fn total_sort_is_globally_ordered_and_sort_partition_orders_each_partition() {
    let data: Vec<i64> = (0..5000).map(|i| (i * 7919) % 5003 - 2500).collect();
    let env = env(4);
    let total = env
        .from_collection(data.clone())
        .sort_by(|x: &i64| *x, Order::Ascending)
        .collect();
    let desc = env
        .from_collection(data.clone())
        .sort_by(|x: &i64| *x, Order::Descending)
        .collect();
    let partitions = env
        .from_collection(data.clone())
        .sort_partition(|x: &i64| *x, Order::Ascending)
        .map(|x: i64| (x, 0u8))
        .collect();
    env.execute("sort").unwrap();
    assert_eq!(total.take(), sorted(data.clone()));
    let mut rev = sorted(data.clone());
    rev.reverse();
    assert_eq!(desc.take(), rev);
    assert_eq!(sorted(partitions.take()).len(), data.len());
}

#[test]
fn distinct_keeps_one_of_each_and_distinct_by_keeps_one_per_key() {
    let data: Vec<(u8, u32)> = (0..3000u32).map(|i| ((i % 97) as u8, i % 13)).collect();
    let expected: BTreeSet<(u8, u32)> = data.iter().copied().collect();
    let keys: BTreeSet<u8> = data.iter().map(|r| r.0).collect();
    for p in [1, 4] {
        let env = env(p);
        // A small combiner budget exercises partial deduplication before the exchange.
        env.set_config("execution.batch.combiner.max-keys", "10").unwrap();
        let d = env.from_collection(data.clone()).distinct().collect();
        let by = env
            .from_collection(data.clone())
            .distinct_by(|r: &(u8, u32)| r.0)
            .collect();
        env.execute("distinct").unwrap();
        let got = d.take();
        assert_eq!(got.len(), expected.len(), "no duplicates, p={p}");
        assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), expected);
        let by = by.take();
        assert_eq!(by.iter().map(|r| r.0).collect::<BTreeSet<_>>(), keys);
        assert_eq!(by.len(), keys.len());
    }
}

#[test]
fn group_reduce_aggregate_and_keyed_min_max_agree_with_direct_computation() {
    let data: Vec<(u32, i64)> = (0..2000)
        .map(|i| (i % 17, (i64::from(i) * 31) % 101 - 50))
        .collect();
    let mut groups: HashMap<u32, Vec<i64>> = HashMap::new();
    for (k, v) in &data {
        groups.entry(*k).or_default().push(*v);
    }
    let env = env(3);
    let s = env.from_collection(data.clone());
    let keyed = s.key_by(|r: &(u32, i64)| r.0);
    let medians = keyed
        .reduce_group(
            |k: &u32, vs: Vec<(u32, i64)>, out: &mut dyn Collector<(u32, i64)>| {
                let mut v: Vec<i64> = vs.into_iter().map(|r| r.1).collect();
                v.sort();
                out.collect((*k, v[v.len() / 2]));
            },
        )
        .collect();

    #[derive(Clone)]
    struct Avg;
    impl AggregateFunction<(u32, i64), (i64, i64), f64> for Avg {
        fn create_accumulator(&self) -> (i64, i64) {
            (0, 0)
        }
        fn add(&self, acc: &mut (i64, i64), v: (u32, i64)) {
            acc.0 += v.1;
            acc.1 += 1;
        }
        fn get_result(&self, acc: &(i64, i64)) -> f64 {
            acc.0 as f64 / acc.1 as f64
        }
        fn merge(&self, a: (i64, i64), b: (i64, i64)) -> (i64, i64) {
            (a.0 + b.0, a.1 + b.1)
        }
    }
    let avgs = keyed.aggregate(Avg).collect();
    let mins = keyed.min(|r: &mut (u32, i64)| &mut r.1).collect();
    let maxs = keyed.max_by(|r: &(u32, i64)| r.1).collect();
    let sums = keyed.sum(|r: &mut (u32, i64)| &mut r.1).collect();
    env.execute("grouping").unwrap();

    for (k, m) in medians.take() {
        let mut v = groups[&k].clone();
        v.sort();
        assert_eq!(m, v[v.len() / 2]);
    }
    let avgs = avgs.take();
    assert_eq!(avgs.len(), groups.len());
    for (k, a) in avgs {
        let v = &groups[&k];
        assert!((a - v.iter().sum::<i64>() as f64 / v.len() as f64).abs() < 1e-9);
    }
    for (name, got, f) in [
        (
            "min",
            mins.take(),
            (|v: &Vec<i64>| *v.iter().min().unwrap()) as fn(&Vec<i64>) -> i64,
        ),
        ("max", maxs.take(), |v: &Vec<i64>| *v.iter().max().unwrap()),
        ("sum", sums.take(), |v: &Vec<i64>| v.iter().sum()),
    ] {
        assert_eq!(
            got.len(),
            groups.len(),
            "{name}: one result per key in batch mode"
        );
        for (k, v) in got {
            assert_eq!(v, f(&groups[&k]), "{name} of key {k}");
        }
    }
}

#[test]
fn cross_count_and_first_n() {
    let env = env(3);
    let a: Vec<u32> = (0..20).collect();
    let b: Vec<char> = "xyz".chars().collect();
    let pairs = env
        .from_collection(a.clone())
        .cross(&env.from_collection(b.clone()))
        .collect();
    let n = env.from_sequence(1, 12345).count().collect();
    let top = env
        .from_sequence(1, 1000)
        .sort_by(|x: &i64| std::cmp::Reverse(*x), Order::Ascending)
        .first_n(5)
        .collect();
    let firsts = env.from_sequence(1, 1000).first_n(7).collect();
    env.execute("misc").unwrap();
    let expected: Vec<(u32, char)> = a.iter().flat_map(|x| b.iter().map(move |c| (*x, *c))).collect();
    assert_eq!(sorted(pairs.take()), sorted(expected));
    assert_eq!(n.take(), [12345]);
    assert_eq!(top.take(), [1000, 999, 998, 997, 996]);
    let f = firsts.take();
    assert_eq!(f.len(), 7);
    assert!(f.iter().all(|x| (1..=1000).contains(x)));
}

#[test]
fn union_and_partitionings_deliver_every_record_where_promised() {
    let env = env(3);
    let a = env.from_sequence(1, 100);
    let b = env.from_sequence(101, 150).set_parallelism(1);
    let union = a.clone().union([b.clone()]).map(|x: i64| x).collect();
    // Broadcast into 3 subtasks: every record three times.
    let broadcast = b.clone().broadcast().map(|x: i64| x).set_parallelism(3).collect();
    // Custom: even to subtask 0, odd to subtask 1; the map tags records with their subtask.
    let custom = a
        .clone()
        .partition_custom(|x: &i64, _n| (*x % 2) as usize)
        .flat_map(|x: i64, out: &mut dyn Collector<i64>| out.collect(x))
        .set_parallelism(2)
        .collect();
    let rebalanced = a.clone().rebalance().map(|x: i64| x).set_parallelism(2).collect();
    let shuffled = a.clone().shuffle().map(|x: i64| x).collect();
    let rescaled = a.clone().rescale().map(|x: i64| x).set_parallelism(6).collect();
    let forwarded = a.forward().map(|x: i64| x * 2).collect();
    env.execute("partitioning").unwrap();
    assert_eq!(sorted(union.take()), (1..=150).collect::<Vec<_>>());
    let mut expected_bc: Vec<i64> = (101..=150).flat_map(|x| [x, x, x]).collect();
    expected_bc.sort();
    assert_eq!(sorted(broadcast.take()), expected_bc);
    assert_eq!(sorted(custom.take()), (1..=100).collect::<Vec<_>>());
    assert_eq!(sorted(rebalanced.take()), (1..=100).collect::<Vec<_>>());
    assert_eq!(sorted(shuffled.take()), (1..=100).collect::<Vec<_>>());
    assert_eq!(sorted(rescaled.take()), (1..=100).collect::<Vec<_>>());
    assert_eq!(
        sorted(forwarded.take()),
        (1..=100).map(|x| x * 2).collect::<Vec<_>>()
    );
}

#[test]
fn custom_partitioner_out_of_range_fails_the_job_naming_the_operator() {
    let env = env(2);
    env.from_sequence(1, 10)
        .partition_custom(|_: &i64, n| n + 5)
        .map(|x: i64| x)
        .collect();
    let e = env.execute("bad partitioner").unwrap_err().to_string();
    assert!(e.contains("custom partitioner chose partition 7 of 2"), "{e}");
}
