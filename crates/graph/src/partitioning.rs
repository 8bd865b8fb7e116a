use serde::{Deserialize, Serialize};
use std::ops::Range;

/// How records of an edge are distributed over the consumer's subtasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Partitioning {
    /// Not chosen by the user: forward when parallelism is equal, otherwise rebalance.
    Default,
    /// Subtask i sends to subtask i; requires equal parallelism. Allows chaining.
    Forward,
    /// Round-robin over all consumers.
    Rebalance,
    /// Round-robin over a local subset of consumers (pointwise connection).
    Rescale,
    /// Uniformly random consumer.
    Shuffle,
    /// Every record to every consumer.
    Broadcast,
    /// By the hash of a key, through key groups.
    Hash,
    /// By a user function of the record.
    Custom,
}

impl Partitioning {
    /// Whether every producer subtask connects to every consumer subtask.
    pub fn is_all_to_all(self) -> bool {
        !matches!(self, Partitioning::Forward | Partitioning::Rescale)
    }
}

/// The consumer subtasks that producer `i` (of `up`) sends to, for a pointwise edge
/// (forward or rescale) into `down` consumers. All-to-all edges send to `0..down`.
pub fn targets_of(p: Partitioning, up: u32, down: u32, i: u32) -> Range<u32> {
    if p.is_all_to_all() {
        return 0..down;
    }
    if up >= down {
        let j = (u64::from(i) * u64::from(down) / u64::from(up)) as u32;
        j..j + 1
    } else {
        // Consumers j with floor(j * up / down) == i.
        let start = ceil_div(u64::from(i) * u64::from(down), u64::from(up)) as u32;
        let end = ceil_div(u64::from(i + 1) * u64::from(down), u64::from(up)) as u32;
        start..end
    }
}

/// How many producer subtasks send to consumer `j`.
pub fn producers_of(p: Partitioning, up: u32, down: u32, j: u32) -> u32 {
    (0..up)
        .filter(|&i| targets_of(p, up, down, i).contains(&j))
        .count() as u32
}

fn ceil_div(a: u64, b: u64) -> u64 {
    a.div_ceil(b)
}

/// The key group of a key hash: `hash % max_parallelism`, after mixing the bits, so keys with
/// similar hashes spread out.
pub fn key_group(key_hash: u64, max_parallelism: u32) -> u32 {
    (mix64(key_hash) % u64::from(max_parallelism)) as u32
}

/// The subtask that owns a key group (Flink's formula: `group * parallelism / max_parallelism`),
/// so each subtask owns one contiguous range of key groups.
pub fn subtask_for_key_group(group: u32, max_parallelism: u32, parallelism: u32) -> u32 {
    (u64::from(group) * u64::from(parallelism) / u64::from(max_parallelism)) as u32
}

/// Finalizer of MurmurHash3 (fmix64): spreads every input bit over the output.
pub fn mix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_is_one_to_one() {
        for i in 0..4 {
            assert_eq!(targets_of(Partitioning::Forward, 4, 4, i), i..i + 1);
            assert_eq!(producers_of(Partitioning::Forward, 4, 4, i), 1);
        }
    }

    #[test]
    fn rescale_covers_every_consumer_exactly_once_when_fanning_out() {
        for (up, down) in [(1, 4), (2, 4), (2, 5), (3, 7)] {
            let mut seen = vec![0; down as usize];
            for i in 0..up {
                for j in targets_of(Partitioning::Rescale, up, down, i) {
                    seen[j as usize] += 1;
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "{up}->{down}: {seen:?}");
        }
    }

    #[test]
    fn rescale_fan_in_sends_each_producer_to_one_consumer() {
        for (up, down) in [(4, 2), (5, 2), (7, 3), (4, 4)] {
            let mut per_consumer = vec![0; down as usize];
            for i in 0..up {
                let t = targets_of(Partitioning::Rescale, up, down, i);
                assert_eq!(t.len(), 1);
                per_consumer[t.start as usize] += 1;
            }
            assert!(
                per_consumer.iter().all(|&c| c >= 1),
                "{up}->{down}: {per_consumer:?}"
            );
            for j in 0..down {
                assert_eq!(
                    producers_of(Partitioning::Rescale, up, down, j),
                    per_consumer[j as usize]
                );
            }
        }
    }

    #[test]
    fn key_groups_map_to_contiguous_subtask_ranges() {
        let max = 128;
        let p = 3;
        let mut last = 0;
        for g in 0..max {
            let s = subtask_for_key_group(g, max, p);
            assert!(s >= last && s < p);
            last = s;
        }
        assert_eq!(last, p - 1);
        assert!(key_group(u64::MAX, max) < max);
    }
}
