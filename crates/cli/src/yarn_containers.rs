//! The ApplicationMaster's TaskManager containers as bookkeeping, without I/O (`yarn_am` does the
//! calls): how many containers the jobs need, on which hosts to ask for them, which allocated
//! container fills which ask, and which asks changed since the last heartbeat.
//!
//! The target is `max(min, ceil(slots the jobs want / slots per TaskManager))`. Missing
//! containers are asked for on the hosts that store the waiting jobs' input (each such host one
//! first, by bytes; then the host with the most bytes per container it has or was asked for
//! gets the next one), node-local with
//! relaxed locality: one ask per host, plus the rack and `*` asks YARN needs, each the total
//! outstanding (as Hadoop's `AMRMClient` sends them). With no known input hosts they are asked
//! for anywhere. An allocated container fills an ask on its own host if there is one, else an
//! ask anywhere, else the host ask with the most outstanding (the scheduler relaxed it); a
//! container no ask is left for is surplus and released. When the demand drops, outstanding
//! asks are cancelled (anywhere first); running containers stay until they are idle long enough
//! (`resourcemanager.taskmanager-timeout`).

use spate_cluster::jobmanager::resources::ResourceDemand;
use spate_yarn::container::ANY_HOST;
use spate_yarn::{Resource, ResourceRequest};
use std::collections::BTreeMap;

/// The rack of every host (YARN's default topology, as `RackResolver` answers without a
/// topology script).
pub(crate) const DEFAULT_RACK: &str = "/default-rack";

/// What an allocated container is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Match {
    /// It fills an outstanding ask: start a TaskManager in it.
    Start,
    /// No ask is left for it: release it.
    Surplus,
}

/// Outstanding asks and the asks last sent to the ResourceManager.
#[derive(Debug, Default)]
pub(crate) struct ContainerBook {
    /// Containers to keep at least (`-n`).
    pub(crate) min: u32,
    /// Slots of each TaskManager.
    pub(crate) slots: u32,
    /// Outstanding asks on a host.
    on_host: BTreeMap<String, i32>,
    /// Outstanding asks anywhere.
    anywhere: i32,
    /// Counts last sent, per resource name (hosts, the rack, `*`).
    sent: BTreeMap<String, i32>,
}

impl ContainerBook {
    pub(crate) fn new(min: u32, slots: u32) -> Self {
        ContainerBook {
            min,
            slots: slots.max(1),
            ..Default::default()
        }
    }

    /// Containers asked for and not allocated yet.
    pub(crate) fn outstanding(&self) -> i32 {
        self.anywhere + self.on_host.values().sum::<i32>()
    }

    /// Containers the demand calls for.
    pub(crate) fn target(&self, demand: &ResourceDemand) -> u32 {
        self.min.max(demand.slots.div_ceil(self.slots))
    }

    /// Updates the outstanding asks for `demand`, given the hosts of the running containers.
    /// While a waiting job's input locations are not known yet, nothing new is asked for beyond
    /// the minimum (its hosts come with the next heartbeats).
    pub(crate) fn plan(&mut self, demand: &ResourceDemand, running: &[String]) {
        let target = i64::from(self.target(demand));
        let have = running.len() as i64 + i64::from(self.outstanding());
        if have > target {
            self.cancel((have - target).min(i64::from(self.outstanding())) as i32, demand);
            return;
        }
        let missing = target - have;
        if missing == 0 {
            return;
        }
        let missing = if demand.preparing_jobs > 0 {
            missing.min((i64::from(self.min) - have).max(0))
        } else {
            missing
        };
        let mut count: BTreeMap<&str, i64> = BTreeMap::new();
        for h in running {
            *count.entry(h.as_str()).or_default() += 1;
        }
        for (h, n) in &self.on_host {
            *count.entry(h.as_str()).or_default() += i64::from(*n);
        }
        let mut added: BTreeMap<String, i32> = BTreeMap::new();
        for _ in 0..missing {
            // A host with input and no container first, then the host with the most bytes per
            // container there (already or newly asked for).
            let best = demand
                .hosts
                .iter()
                .filter(|(_, bytes)| *bytes > 0)
                .map(|(h, bytes)| {
                    let n = count.get(h.as_str()).copied().unwrap_or(0)
                        + i64::from(added.get(h).copied().unwrap_or(0));
                    (h, n == 0, *bytes as f64 / (n + 1) as f64)
                })
                .max_by(|a, b| {
                    a.1.cmp(&b.1)
                        .then_with(|| a.2.total_cmp(&b.2))
                        .then_with(|| b.0.cmp(a.0))
                });
            match best {
                Some((h, _, _)) => *added.entry(h.clone()).or_default() += 1,
                None => self.anywhere += 1,
            }
        }
        for (h, n) in added {
            *self.on_host.entry(h).or_default() += n;
        }
    }

    /// Cancels `n` outstanding asks: anywhere first, then on the hosts with the fewest bytes.
    fn cancel(&mut self, mut n: i32, demand: &ResourceDemand) {
        let from_any = n.min(self.anywhere);
        self.anywhere -= from_any;
        n -= from_any;
        let bytes = |h: &str| demand.hosts.iter().find(|(x, _)| x == h).map_or(0, |(_, b)| *b);
        while n > 0 {
            let Some(host) = self
                .on_host
                .iter()
                .filter(|(_, c)| **c > 0)
                .min_by_key(|(h, _)| bytes(h))
                .map(|(h, _)| h.clone())
            else {
                break;
            };
            if let Some(c) = self.on_host.get_mut(&host) {
                *c -= 1;
            }
            n -= 1;
        }
    }

    /// What an allocated container on `host` is for (updating the outstanding asks).
    pub(crate) fn allocated(&mut self, host: &str) -> Match {
        if let Some(c) = self.on_host.get_mut(host).filter(|c| **c > 0) {
            *c -= 1;
            return Match::Start;
        }
        if self.anywhere > 0 {
            self.anywhere -= 1;
            return Match::Start;
        }
        let relaxed = self
            .on_host
            .iter()
            .filter(|(_, c)| **c > 0)
            .max_by_key(|(_, c)| **c)
            .map(|(h, _)| h.clone());
        match relaxed.and_then(|h| self.on_host.get_mut(&h)) {
            Some(c) => {
                *c -= 1;
                Match::Start
            }
            None => Match::Surplus,
        }
    }

    /// The asks whose counts changed since the last call (0 cancels one).
    pub(crate) fn changed_asks(&mut self, priority: i32, capability: Resource) -> Vec<ResourceRequest> {
        let total = self.outstanding();
        let mut now: BTreeMap<String, i32> = self
            .on_host
            .iter()
            .filter(|(_, c)| **c > 0)
            .map(|(h, c)| (h.clone(), *c))
            .collect();
        now.insert(DEFAULT_RACK.to_string(), total);
        now.insert(ANY_HOST.to_string(), total);
        let mut asks = Vec::new();
        for (name, count) in &now {
            if self.sent.get(name).copied().unwrap_or(0) != *count {
                asks.push(ask(priority, name, capability, *count));
            }
        }
        for (name, _) in self.sent.iter().filter(|(n, c)| **c > 0 && !now.contains_key(*n)) {
            asks.push(ask(priority, name, capability, 0));
        }
        self.on_host.retain(|_, c| *c > 0);
        now.retain(|_, c| *c > 0);
        self.sent = now;
        asks
    }

    /// The ResourceManager forgot every ask (a resync): nothing is outstanding any more.
    pub(crate) fn forget(&mut self) {
        self.on_host.clear();
        self.anywhere = 0;
        self.sent.clear();
    }

    /// An ask that failed to reach the ResourceManager is sent again with the next changes.
    pub(crate) fn unsent(&mut self) {
        self.sent.clear();
    }
}

fn ask(priority: i32, name: &str, capability: Resource, n: i32) -> ResourceRequest {
    ResourceRequest {
        priority,
        resource_name: name.to_string(),
        capability,
        num_containers: n,
        relax_locality: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demand(slots: u32, hosts: &[(&str, u64)]) -> ResourceDemand {
        ResourceDemand {
            slots,
            waiting_jobs: 1,
            preparing_jobs: 0,
            hosts: hosts.iter().map(|(h, b)| (h.to_string(), *b)).collect(),
        }
    }

    fn counts(asks: &[ResourceRequest]) -> Vec<(String, i32)> {
        asks.iter()
            .map(|a| (a.resource_name.clone(), a.num_containers))
            .collect()
    }

    const CAP: Resource = Resource {
        memory_mb: 256,
        vcores: 1,
    };

    #[test]
    fn asks_one_container_per_input_host_then_rack_and_any() {
        let mut b = ContainerBook::new(0, 1);
        b.plan(&demand(3, &[("h2", 70), ("h3", 60), ("h4", 50)]), &[]);
        assert_eq!(b.outstanding(), 3);
        assert_eq!(
            counts(&b.changed_asks(1, CAP)),
            vec![
                ("*".into(), 3),
                ("/default-rack".into(), 3),
                ("h2".into(), 1),
                ("h3".into(), 1),
                ("h4".into(), 1)
            ]
        );
        assert!(
            b.changed_asks(1, CAP).is_empty(),
            "unchanged asks are not sent again"
        );
        // Allocations fill the asks of their hosts; the counts go down.
        assert_eq!(b.allocated("h3"), Match::Start);
        assert_eq!(
            counts(&b.changed_asks(1, CAP)),
            vec![("*".into(), 2), ("/default-rack".into(), 2), ("h3".into(), 0)]
        );
        // Elsewhere: the scheduler relaxed an ask.
        assert_eq!(b.allocated("h9"), Match::Start);
        assert_eq!(b.allocated("h4"), Match::Start);
        assert_eq!(b.outstanding(), 0);
        assert_eq!(b.allocated("h2"), Match::Surplus);
        // Enough running: nothing more is asked for.
        b.changed_asks(1, CAP);
        b.plan(
            &demand(3, &[("h2", 70)]),
            &["h3".into(), "h9".into(), "h4".into()],
        );
        assert_eq!(b.outstanding(), 0);
    }

    #[test]
    fn more_containers_than_hosts_go_where_most_bytes_are() {
        let mut b = ContainerBook::new(0, 2);
        // 8 slots = 4 containers over 2 hosts, 3:1 bytes.
        b.plan(&demand(8, &[("h2", 300), ("h3", 100)]), &[]);
        let asks = counts(&b.changed_asks(1, CAP));
        assert!(asks.contains(&("h2".into(), 3)), "{asks:?}");
        assert!(asks.contains(&("h3".into(), 1)), "{asks:?}");
    }

    #[test]
    fn without_hosts_asks_anywhere_and_keeps_the_minimum() {
        let mut b = ContainerBook::new(2, 1);
        b.plan(&demand(1, &[]), &[]);
        assert_eq!(b.outstanding(), 2);
        assert_eq!(
            counts(&b.changed_asks(1, CAP)),
            vec![("*".into(), 2), ("/default-rack".into(), 2)]
        );
        // A job whose input hosts are not known yet: only the minimum is asked for.
        let mut b = ContainerBook::new(1, 1);
        let mut d = demand(4, &[]);
        d.preparing_jobs = 1;
        b.plan(&d, &[]);
        assert_eq!(b.outstanding(), 1);
    }

    #[test]
    fn a_lower_demand_cancels_outstanding_asks() {
        let mut b = ContainerBook::new(0, 1);
        b.plan(&demand(3, &[("h2", 10), ("h3", 50)]), &[]);
        b.changed_asks(1, CAP);
        b.plan(&demand(1, &[("h2", 10), ("h3", 50)]), &[]);
        assert_eq!(b.outstanding(), 1);
        let asks = counts(&b.changed_asks(1, CAP));
        assert!(asks.contains(&("*".into(), 1)), "{asks:?}");
        assert!(
            asks.contains(&("h2".into(), 0)),
            "the host with fewer bytes goes first: {asks:?}"
        );
        b.plan(&demand(0, &[]), &[]);
        let asks = counts(&b.changed_asks(1, CAP));
        assert!(
            asks.contains(&("*".into(), 0)) && asks.contains(&("h3".into(), 0)),
            "{asks:?}"
        );
    }
}
