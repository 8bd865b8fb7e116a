//! What the ResourceManager reports to clients: applications, nodes, queues, resources.

use std::fmt;

use crate::error::{Error, Result};
use crate::ids::{ApplicationAttemptId, ApplicationId, NodeId};
use crate::proto::yarn::{
    ApplicationReportProto, FinalApplicationStatusProto, NodeReportProto, NodeStateProto, QueueInfoProto,
    QueueStateProto, ResourceProto, YarnApplicationStateProto,
};

/// An amount of memory and CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Resource {
    /// Memory in MiB.
    pub memory_mb: i64,
    /// Virtual cores.
    pub vcores: i32,
}

impl Resource {
    pub fn new(memory_mb: i64, vcores: i32) -> Self {
        Resource { memory_mb, vcores }
    }

    pub(crate) fn into_proto(self) -> ResourceProto {
        ResourceProto {
            memory: Some(self.memory_mb),
            virtual_cores: Some(self.vcores),
        }
    }

    /// Absent fields are 0, as in Java's `ResourcePBImpl`.
    pub(crate) fn from_proto(p: Option<ResourceProto>) -> Self {
        let p = p.unwrap_or_default();
        Resource {
            memory_mb: p.memory.unwrap_or(0),
            vcores: p.virtual_cores.unwrap_or(0),
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<memory:{} MB, vcores:{}>", self.memory_mb, self.vcores)
    }
}

/// A new application id and the largest container the cluster can give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApplication {
    pub id: ApplicationId,
    pub max_capability: Resource,
}

/// The ResourceManager's state of an application (`YarnApplicationState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApplicationState {
    New,
    NewSaving,
    Submitted,
    /// Waiting for, or running, its ApplicationMaster before the AM registers.
    Accepted,
    /// The ApplicationMaster has registered.
    Running,
    /// Terminal: the AM unregistered (see [`FinalStatus`] for success).
    Finished,
    /// Terminal: every AM attempt failed, or the app was rejected.
    Failed,
    /// Terminal: killed by a user or an admin.
    Killed,
}

impl ApplicationState {
    /// Finished, failed or killed.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ApplicationState::Finished | ApplicationState::Failed | ApplicationState::Killed
        )
    }

    fn from_proto(v: Option<i32>) -> Result<Self> {
        use YarnApplicationStateProto as P;
        let v = v.ok_or_else(|| Error::missing("application report", "state"))?;
        Ok(match P::try_from(v) {
            Ok(P::New) => ApplicationState::New,
            Ok(P::NewSaving) => ApplicationState::NewSaving,
            Ok(P::Submitted) => ApplicationState::Submitted,
            Ok(P::Accepted) => ApplicationState::Accepted,
            Ok(P::Running) => ApplicationState::Running,
            Ok(P::Finished) => ApplicationState::Finished,
            Ok(P::Failed) => ApplicationState::Failed,
            Ok(P::Killed) => ApplicationState::Killed,
            Err(_) => return Err(Error::protocol(format!("unknown application state {v}"))),
        })
    }
}

/// The outcome an ApplicationMaster reports when it unregisters (`FinalApplicationStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FinalStatus {
    /// Not finished yet.
    Undefined,
    Succeeded,
    Failed,
    Killed,
    Ended,
}

impl FinalStatus {
    pub(crate) fn into_proto(self) -> i32 {
        use FinalApplicationStatusProto as P;
        (match self {
            FinalStatus::Undefined => P::AppUndefined,
            FinalStatus::Succeeded => P::AppSucceeded,
            FinalStatus::Failed => P::AppFailed,
            FinalStatus::Killed => P::AppKilled,
            FinalStatus::Ended => P::AppEnded,
        }) as i32
    }

    /// Absent means undefined (the proto default).
    fn from_proto(v: Option<i32>) -> Result<Self> {
        use FinalApplicationStatusProto as P;
        let v = v.unwrap_or(P::AppUndefined as i32);
        Ok(match P::try_from(v) {
            Ok(P::AppUndefined) => FinalStatus::Undefined,
            Ok(P::AppSucceeded) => FinalStatus::Succeeded,
            Ok(P::AppFailed) => FinalStatus::Failed,
            Ok(P::AppKilled) => FinalStatus::Killed,
            Ok(P::AppEnded) => FinalStatus::Ended,
            Err(_) => return Err(Error::protocol(format!("unknown final status {v}"))),
        })
    }
}

/// What the ResourceManager knows about one application.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationReport {
    pub id: ApplicationId,
    pub name: String,
    pub user: String,
    pub queue: String,
    pub application_type: String,
    pub state: ApplicationState,
    pub final_status: FinalStatus,
    /// Why it failed or was killed, or progress messages ("N/A" when YARN has none).
    pub diagnostics: String,
    /// Host the registered ApplicationMaster gave ("N/A" before it registers).
    pub host: String,
    /// RPC port the registered ApplicationMaster gave (-1 or 0 when none).
    pub rpc_port: i32,
    /// The RM's proxy URL for the AM's web UI.
    pub tracking_url: String,
    /// The tracking URL the AM registered.
    pub original_tracking_url: String,
    pub current_attempt: Option<ApplicationAttemptId>,
    /// Start and finish times, ms since the epoch (finish 0 while running).
    pub start_time: i64,
    pub finish_time: i64,
    pub progress: f32,
}

impl ApplicationReport {
    pub(crate) fn from_proto(p: ApplicationReportProto) -> Result<Self> {
        let current_attempt = match p.current_application_attempt_id {
            Some(a) => Some(ApplicationAttemptId::from_proto(Some(a))?),
            None => None,
        };
        Ok(ApplicationReport {
            id: ApplicationId::from_proto(p.application_id)?,
            state: ApplicationState::from_proto(p.yarn_application_state)?,
            final_status: FinalStatus::from_proto(p.final_application_status)?,
            diagnostics: p.diagnostics.unwrap_or_else(|| "N/A".into()),
            name: p.name.unwrap_or_default(),
            user: p.user.unwrap_or_default(),
            queue: p.queue.unwrap_or_default(),
            application_type: p.application_type.unwrap_or_default(),
            host: p.host.unwrap_or_default(),
            rpc_port: p.rpc_port.unwrap_or(-1),
            tracking_url: p.tracking_url.unwrap_or_default(),
            original_tracking_url: p.original_tracking_url.unwrap_or_default(),
            current_attempt,
            start_time: p.start_time.unwrap_or(0),
            finish_time: p.finish_time.unwrap_or(0),
            progress: p.progress.unwrap_or(0.0),
        })
    }
}

/// The state of a NodeManager as the ResourceManager sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeState {
    New,
    Running,
    Unhealthy,
    Decommissioned,
    Lost,
    Rebooted,
    Decommissioning,
    Shutdown,
}

impl NodeState {
    const ALL: [(NodeState, NodeStateProto); 8] = [
        (NodeState::New, NodeStateProto::NsNew),
        (NodeState::Running, NodeStateProto::NsRunning),
        (NodeState::Unhealthy, NodeStateProto::NsUnhealthy),
        (NodeState::Decommissioned, NodeStateProto::NsDecommissioned),
        (NodeState::Lost, NodeStateProto::NsLost),
        (NodeState::Rebooted, NodeStateProto::NsRebooted),
        (NodeState::Decommissioning, NodeStateProto::NsDecommissioning),
        (NodeState::Shutdown, NodeStateProto::NsShutdown),
    ];

    pub(crate) fn into_proto(self) -> i32 {
        Self::ALL
            .iter()
            .find(|(s, _)| *s == self)
            .map_or(NodeStateProto::NsRunning as i32, |(_, p)| *p as i32)
    }

    fn from_proto(v: Option<i32>) -> Result<Self> {
        let v = v.ok_or_else(|| Error::missing("node report", "state"))?;
        Self::ALL
            .iter()
            .find(|(_, p)| *p as i32 == v)
            .map(|(s, _)| *s)
            .ok_or_else(|| Error::protocol(format!("unknown node state {v}")))
    }
}

/// One NodeManager of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeReport {
    pub node_id: NodeId,
    /// `host:port` of the NodeManager's web server.
    pub http_address: String,
    /// Rack, e.g. `/default-rack`.
    pub rack: String,
    pub capability: Resource,
    pub used: Resource,
    pub num_containers: i32,
    pub state: NodeState,
    pub health_report: String,
}

impl NodeReport {
    pub(crate) fn from_proto(p: NodeReportProto) -> Result<Self> {
        Ok(NodeReport {
            node_id: NodeId::from_proto(p.node_id)?,
            state: NodeState::from_proto(p.node_state)?,
            http_address: p.http_address.unwrap_or_default(),
            rack: p.rack_name.unwrap_or_default(),
            capability: Resource::from_proto(p.capability),
            used: Resource::from_proto(p.used),
            num_containers: p.num_containers.unwrap_or(0),
            health_report: p.health_report.unwrap_or_default(),
        })
    }
}

/// Whether a queue accepts applications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueState {
    Stopped,
    Running,
    Draining,
}

/// A scheduler queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueInfo {
    pub name: String,
    /// Configured share of the parent (0..1).
    pub capacity: f32,
    pub maximum_capacity: f32,
    /// Share in use now.
    pub current_capacity: f32,
    pub state: Option<QueueState>,
    /// Names of the child queues.
    pub children: Vec<String>,
}

impl QueueInfo {
    pub(crate) fn from_proto(p: QueueInfoProto) -> Result<Self> {
        use QueueStateProto as P;
        let state = match p.state.map(P::try_from) {
            None => None,
            Some(Ok(P::QStopped)) => Some(QueueState::Stopped),
            Some(Ok(P::QRunning)) => Some(QueueState::Running),
            Some(Ok(P::QDraining)) => Some(QueueState::Draining),
            Some(Err(_)) => return Err(Error::protocol("unknown queue state")),
        };
        Ok(QueueInfo {
            name: p
                .queue_name
                .ok_or_else(|| Error::missing("queue info", "queue name"))?,
            capacity: p.capacity.unwrap_or(0.0),
            maximum_capacity: p.maximum_capacity.unwrap_or(0.0),
            current_capacity: p.current_capacity.unwrap_or(0.0),
            state,
            children: p.child_queues.into_iter().filter_map(|c| c.queue_name).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::yarn::{ApplicationIdProto, NodeIdProto};

    #[test]
    fn application_report_conversion() {
        let p = ApplicationReportProto {
            application_id: Some(ApplicationIdProto {
                id: Some(3),
                cluster_timestamp: Some(99),
            }),
            yarn_application_state: Some(YarnApplicationStateProto::Failed as i32),
            final_application_status: Some(FinalApplicationStatusProto::AppFailed as i32),
            name: Some("n".into()),
            ..Default::default()
        };
        let r = ApplicationReport::from_proto(p.clone()).unwrap();
        assert_eq!(r.id.to_string(), "application_99_0003");
        assert_eq!(
            (r.state, r.final_status),
            (ApplicationState::Failed, FinalStatus::Failed)
        );
        assert!(r.state.is_terminal() && !ApplicationState::Accepted.is_terminal());
        assert_eq!(r.diagnostics, "N/A");
        let no_state = ApplicationReportProto {
            yarn_application_state: None,
            ..p.clone()
        };
        assert!(ApplicationReport::from_proto(no_state).is_err());
        let bad_state = ApplicationReportProto {
            yarn_application_state: Some(42),
            ..p.clone()
        };
        assert!(ApplicationReport::from_proto(bad_state).is_err());
        let bad_final = ApplicationReportProto {
            final_application_status: Some(-7),
            ..p
        };
        assert!(ApplicationReport::from_proto(bad_final).is_err());
    }

    #[test]
    fn node_report_and_states() {
        for (s, _) in NodeState::ALL {
            assert_eq!(NodeState::from_proto(Some(s.into_proto())).unwrap(), s);
        }
        assert!(NodeState::from_proto(Some(0)).is_err());
        let p = NodeReportProto {
            node_id: Some(NodeIdProto {
                host: Some("127.0.0.2".into()),
                port: Some(4000),
            }),
            node_state: Some(NodeStateProto::NsRunning as i32),
            capability: Some(Resource::new(4096, 4).into_proto()),
            ..Default::default()
        };
        let n = NodeReport::from_proto(p).unwrap();
        assert_eq!(n.capability, Resource::new(4096, 4));
        assert_eq!(n.used, Resource::default());
        assert_eq!(n.capability.to_string(), "<memory:4096 MB, vcores:4>");
        assert!(NodeReport::from_proto(NodeReportProto::default()).is_err());
    }

    #[test]
    fn queue_info_conversion() {
        let p = QueueInfoProto {
            queue_name: Some("default".into()),
            capacity: Some(1.0),
            state: Some(QueueStateProto::QRunning as i32),
            child_queues: vec![QueueInfoProto {
                queue_name: Some("a".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let q = QueueInfo::from_proto(p.clone()).unwrap();
        assert_eq!(
            (q.state, q.children.clone()),
            (Some(QueueState::Running), vec!["a".to_string()])
        );
        assert!(QueueInfo::from_proto(QueueInfoProto { state: Some(9), ..p }).is_err());
        assert!(QueueInfo::from_proto(QueueInfoProto::default()).is_err());
    }
}
