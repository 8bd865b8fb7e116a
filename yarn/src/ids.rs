//! YARN's identifiers, printed and parsed in YARN's own text forms (`application_…`,
//! `appattempt_…`, `container_…`, `host:port`), and converted to and from the wire.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::proto::yarn::{ApplicationAttemptIdProto, ApplicationIdProto, ContainerIdProto, NodeIdProto};

/// An application: the ResourceManager's start time and a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApplicationId {
    /// Start time of the ResourceManager that issued the id (ms since the epoch).
    pub cluster_timestamp: i64,
    /// Sequence number within that ResourceManager.
    pub id: i32,
}

/// One attempt to run an application's ApplicationMaster (1, 2, … after AM failures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApplicationAttemptId {
    pub application: ApplicationId,
    pub attempt: i32,
}

/// A container: the attempt that received it and a number that holds the RM's epoch in its top
/// bits (`id >> 40`) and a sequence number in its low 40 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerId {
    pub attempt: ApplicationAttemptId,
    pub id: i64,
}

/// A NodeManager: its host and RPC port (the address to start containers at).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub host: String,
    pub port: i32,
}

const SEQUENCE_BITS: u32 = 40;
const SEQUENCE_MASK: i64 = (1 << SEQUENCE_BITS) - 1;

impl ContainerId {
    /// The ResourceManager epoch (restarts with work-preserving recovery) the container was made in.
    pub fn epoch(&self) -> i64 {
        self.id >> SEQUENCE_BITS
    }

    /// The sequence number within the attempt (1 is the ApplicationMaster's container).
    pub fn sequence(&self) -> i64 {
        self.id & SEQUENCE_MASK
    }
}

impl NodeId {
    /// `host:port`, the NodeManager's RPC address.
    pub fn address(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ApplicationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "application_{}_{:04}", self.cluster_timestamp, self.id)
    }
}

impl fmt::Display for ApplicationAttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let app = &self.application;
        write!(
            f,
            "appattempt_{}_{:04}_{:06}",
            app.cluster_timestamp, app.id, self.attempt
        )
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("container_")?;
        if self.epoch() > 0 {
            write!(f, "e{:02}_", self.epoch())?;
        }
        let app = &self.attempt.application;
        write!(
            f,
            "{}_{:04}_{:02}_{:06}",
            app.cluster_timestamp,
            app.id,
            self.attempt.attempt,
            self.sequence()
        )
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Parses the `_`-separated numbers after `prefix`; `n` of them.
fn numbers<'a>(s: &'a str, prefix: &str, kind: &'static str, n: usize) -> Result<Vec<&'a str>> {
    let invalid = || Error::InvalidId {
        kind,
        value: s.to_string(),
    };
    let rest = s.strip_prefix(prefix).ok_or_else(invalid)?;
    let parts: Vec<&str> = rest.split('_').collect();
    if parts.len() != n || parts.iter().any(|p| p.is_empty()) {
        return Err(invalid());
    }
    Ok(parts)
}

fn num<T: FromStr>(s: &str, whole: &str, kind: &'static str) -> Result<T> {
    // Only ASCII digits: `FromStr` alone would accept a sign.
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidId {
            kind,
            value: whole.to_string(),
        });
    }
    s.parse().map_err(|_| Error::InvalidId {
        kind,
        value: whole.to_string(),
    })
}

impl FromStr for ApplicationId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        const KIND: &str = "application id";
        let p = numbers(s, "application_", KIND, 2)?;
        Ok(ApplicationId {
            cluster_timestamp: num(p[0], s, KIND)?,
            id: num(p[1], s, KIND)?,
        })
    }
}

impl FromStr for ApplicationAttemptId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        const KIND: &str = "application attempt id";
        let p = numbers(s, "appattempt_", KIND, 3)?;
        Ok(ApplicationAttemptId {
            application: ApplicationId {
                cluster_timestamp: num(p[0], s, KIND)?,
                id: num(p[1], s, KIND)?,
            },
            attempt: num(p[2], s, KIND)?,
        })
    }
}

impl FromStr for ContainerId {
    type Err = Error;

    /// `container_[e<epoch>_]<clusterTs>_<app>_<attempt>_<seq>`, e.g. the `CONTAINER_ID` that
    /// the NodeManager sets in every container's environment.
    fn from_str(s: &str) -> Result<Self> {
        const KIND: &str = "container id";
        let invalid = || Error::InvalidId {
            kind: KIND,
            value: s.to_string(),
        };
        let with_epoch = s.starts_with("container_e");
        let p = numbers(s, "container_", KIND, if with_epoch { 5 } else { 4 })?;
        let (epoch, p) = if with_epoch {
            (num::<i64>(&p[0][1..], s, KIND)?, &p[1..])
        } else {
            (0, &p[..])
        };
        let sequence: i64 = num(p[3], s, KIND)?;
        if sequence > SEQUENCE_MASK || epoch > (i64::MAX >> SEQUENCE_BITS) {
            return Err(invalid());
        }
        Ok(ContainerId {
            attempt: ApplicationAttemptId {
                application: ApplicationId {
                    cluster_timestamp: num(p[0], s, KIND)?,
                    id: num(p[1], s, KIND)?,
                },
                attempt: num(p[2], s, KIND)?,
            },
            id: (epoch << SEQUENCE_BITS) | sequence,
        })
    }
}

impl FromStr for NodeId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let invalid = || Error::InvalidId {
            kind: "node id",
            value: s.to_string(),
        };
        let (host, port) = s.rsplit_once(':').ok_or_else(invalid)?;
        if host.is_empty() {
            return Err(invalid());
        }
        let port: u16 = port.parse().map_err(|_| invalid())?;
        Ok(NodeId {
            host: host.to_string(),
            port: i32::from(port),
        })
    }
}

// Wire conversions.

impl ApplicationId {
    pub(crate) fn into_proto(self) -> ApplicationIdProto {
        ApplicationIdProto {
            id: Some(self.id),
            cluster_timestamp: Some(self.cluster_timestamp),
        }
    }

    pub(crate) fn from_proto(p: Option<ApplicationIdProto>) -> Result<Self> {
        let p = p.ok_or_else(|| Error::missing("message", "application id"))?;
        Ok(ApplicationId {
            cluster_timestamp: p
                .cluster_timestamp
                .ok_or_else(|| Error::missing("application id", "cluster timestamp"))?,
            id: p.id.ok_or_else(|| Error::missing("application id", "id"))?,
        })
    }
}

impl ApplicationAttemptId {
    pub(crate) fn into_proto(self) -> ApplicationAttemptIdProto {
        ApplicationAttemptIdProto {
            application_id: Some(self.application.into_proto()),
            attempt_id: Some(self.attempt),
        }
    }

    pub(crate) fn from_proto(p: Option<ApplicationAttemptIdProto>) -> Result<Self> {
        let p = p.ok_or_else(|| Error::missing("message", "application attempt id"))?;
        Ok(ApplicationAttemptId {
            application: ApplicationId::from_proto(p.application_id)?,
            attempt: p
                .attempt_id
                .ok_or_else(|| Error::missing("application attempt id", "attempt number"))?,
        })
    }
}

impl ContainerId {
    pub(crate) fn into_proto(self) -> ContainerIdProto {
        ContainerIdProto {
            app_id: Some(self.attempt.application.into_proto()),
            app_attempt_id: Some(self.attempt.into_proto()),
            id: Some(self.id),
        }
    }

    pub(crate) fn from_proto(p: Option<ContainerIdProto>) -> Result<Self> {
        let p = p.ok_or_else(|| Error::missing("message", "container id"))?;
        Ok(ContainerId {
            attempt: ApplicationAttemptId::from_proto(p.app_attempt_id)?,
            id: p.id.ok_or_else(|| Error::missing("container id", "id"))?,
        })
    }
}

impl NodeId {
    /// Only tests put node ids on the wire (the client sends none).
    #[cfg(test)]
    pub(crate) fn into_proto(self) -> NodeIdProto {
        NodeIdProto {
            host: Some(self.host),
            port: Some(self.port),
        }
    }

    pub(crate) fn from_proto(p: Option<NodeIdProto>) -> Result<Self> {
        let p = p.ok_or_else(|| Error::missing("message", "node id"))?;
        Ok(NodeId {
            host: p.host.ok_or_else(|| Error::missing("node id", "host"))?,
            port: p.port.ok_or_else(|| Error::missing("node id", "port"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> ApplicationId {
        ApplicationId {
            cluster_timestamp: 1_700_000_000_123,
            id: 7,
        }
    }

    #[test]
    fn text_forms_round_trip() {
        assert_eq!(app().to_string(), "application_1700000000123_0007");
        assert_eq!(
            "application_1700000000123_0007".parse::<ApplicationId>().unwrap(),
            app()
        );
        let big = ApplicationId {
            cluster_timestamp: 1,
            id: 123_456,
        };
        assert_eq!(big.to_string(), "application_1_123456");
        let attempt = ApplicationAttemptId {
            application: app(),
            attempt: 2,
        };
        assert_eq!(attempt.to_string(), "appattempt_1700000000123_0007_000002");
        assert_eq!(
            attempt.to_string().parse::<ApplicationAttemptId>().unwrap(),
            attempt
        );
        let c = ContainerId { attempt, id: 1 };
        assert_eq!(c.to_string(), "container_1700000000123_0007_02_000001");
        assert_eq!(c.to_string().parse::<ContainerId>().unwrap(), c);
        let e = ContainerId {
            attempt,
            id: (17 << 40) | 42,
        };
        assert_eq!(e.to_string(), "container_e17_1700000000123_0007_02_000042");
        assert_eq!((e.epoch(), e.sequence()), (17, 42));
        assert_eq!(e.to_string().parse::<ContainerId>().unwrap(), e);
        let n: NodeId = "127.0.0.3:41491".parse().unwrap();
        assert_eq!((n.host.as_str(), n.port), ("127.0.0.3", 41491));
        assert_eq!(n.address(), "127.0.0.3:41491");
    }

    #[test]
    fn malformed_ids_are_errors() {
        for bad in [
            "",
            "application_",
            "application_1",
            "application_1_",
            "application_1_2_3",
            "application_-1_2",
            "application_x_2",
            "app_1_2",
            "application_99999999999999999999_1",
        ] {
            assert!(bad.parse::<ApplicationId>().is_err(), "{bad}");
        }
        for bad in [
            "container_1_2_3",
            "container_e_1_2_3_4",
            "container_ex_1_2_3_4",
            "container_e1_2_3_4",
            "container_1_2_3_4_5",
            "container_1_2_3_9999999999999",
            "container_e9999999999_1_2_3_4",
            "container_1_2_3_+4",
        ] {
            assert!(bad.parse::<ContainerId>().is_err(), "{bad}");
        }
        for bad in ["host", ":80", "host:", "host:x", "host:70000"] {
            assert!(bad.parse::<NodeId>().is_err(), "{bad}");
        }
        assert!("appattempt_1_2".parse::<ApplicationAttemptId>().is_err());
    }

    #[test]
    fn wire_conversions() {
        let c = ContainerId {
            attempt: ApplicationAttemptId {
                application: app(),
                attempt: 1,
            },
            id: 5,
        };
        assert_eq!(ContainerId::from_proto(Some(c.into_proto())).unwrap(), c);
        let n = NodeId {
            host: "h".into(),
            port: 1,
        };
        assert_eq!(NodeId::from_proto(Some(n.clone().into_proto())).unwrap(), n);
        assert!(ContainerId::from_proto(None).is_err());
        assert!(ContainerId::from_proto(Some(ContainerIdProto::default())).is_err());
        assert!(ApplicationId::from_proto(Some(ApplicationIdProto {
            id: Some(1),
            cluster_timestamp: None
        }))
        .is_err());
        assert!(NodeId::from_proto(Some(NodeIdProto::default())).is_err());
    }
}
