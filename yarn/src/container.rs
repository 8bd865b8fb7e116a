//! Containers: what an ApplicationMaster asks for ([`ResourceRequest`]), receives ([`Container`])
//! and learns about their end ([`ContainerStatus`]).

use spate_hadoop_ipc::Token;

use crate::error::{Error, Result};
use crate::ids::{ContainerId, NodeId};
use crate::proto::common::TokenProto;
use crate::proto::yarn::{
    ContainerExceptionMapProto, ContainerProto, ContainerStateProto, ContainerStatusProto, PriorityProto,
    ResourceRequestProto,
};
use crate::records::Resource;

/// `exit_status` values YARN sets itself (positive values are the process's exit code, e.g. 143
/// after SIGTERM). From Hadoop's `ContainerExitStatus`.
pub mod exit_status {
    pub const SUCCESS: i32 = 0;
    /// Not set.
    pub const INVALID: i32 = -1000;
    /// Released by the AM, or lost with its node.
    pub const ABORTED: i32 = -100;
    pub const DISKS_FAILED: i32 = -101;
    pub const PREEMPTED: i32 = -102;
    pub const KILLED_EXCEEDED_VMEM: i32 = -103;
    pub const KILLED_EXCEEDED_PMEM: i32 = -104;
    /// Stopped by the AM through the NodeManager.
    pub const KILLED_BY_APPMASTER: i32 = -105;
    pub const KILLED_BY_RESOURCEMANAGER: i32 = -106;
    pub const KILLED_AFTER_APP_COMPLETION: i32 = -107;
}

/// The `resource_name` that matches any node.
pub const ANY_HOST: &str = "*";

/// An ask for `num_containers` containers of one size at one location. The scheduler keeps one
/// outstanding count per (priority, resource name): a new ask replaces the previous one, and
/// 0 cancels it. A location-constrained ask lists the host, its rack and `*`, all with the same
/// count (see [`ResourceRequest::on_host`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRequest {
    /// Lower numbers are served first; containers come back tagged with it.
    pub priority: i32,
    /// A host, a rack (`/default-rack`) or [`ANY_HOST`].
    pub resource_name: String,
    pub capability: Resource,
    pub num_containers: i32,
    /// Whether the scheduler may go past this level (from host to rack, from rack to anywhere).
    pub relax_locality: bool,
}

impl ResourceRequest {
    /// `n` containers anywhere.
    pub fn anywhere(priority: i32, capability: Resource, n: i32) -> Self {
        ResourceRequest {
            priority,
            resource_name: ANY_HOST.into(),
            capability,
            num_containers: n,
            relax_locality: true,
        }
    }

    /// `n` containers on `host` only (in `rack`): the host ask, and rack and `*` asks with
    /// `relax_locality = false` so the scheduler never places them elsewhere — the three asks
    /// Hadoop's `AMRMClient` sends for a request with `relaxLocality=false`.
    pub fn on_host(priority: i32, host: &str, rack: &str, capability: Resource, n: i32) -> Vec<Self> {
        let ask = |name: &str, relax| ResourceRequest {
            priority,
            resource_name: name.to_string(),
            capability,
            num_containers: n,
            relax_locality: relax,
        };
        vec![ask(host, true), ask(rack, false), ask(ANY_HOST, false)]
    }

    pub(crate) fn into_proto(self) -> ResourceRequestProto {
        ResourceRequestProto {
            priority: Some(PriorityProto {
                priority: Some(self.priority),
            }),
            resource_name: Some(self.resource_name),
            capability: Some(self.capability.into_proto()),
            num_containers: Some(self.num_containers),
            relax_locality: Some(self.relax_locality),
        }
    }
}

/// A container the ResourceManager allocated to this application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: ContainerId,
    /// The NodeManager to start it at.
    pub node_id: NodeId,
    /// `host:port` of that NodeManager's web server.
    pub node_http_address: String,
    pub resource: Resource,
    pub priority: i32,
    /// Proves the allocation to the NodeManager; passed to
    /// [`crate::NmClient::start_container`] unchanged.
    pub container_token: Token,
}

impl Container {
    pub(crate) fn from_proto(p: ContainerProto) -> Result<Self> {
        let token = p
            .container_token
            .ok_or_else(|| Error::missing("container", "container token"))?;
        Ok(Container {
            id: ContainerId::from_proto(p.id)?,
            node_id: NodeId::from_proto(p.node_id)?,
            node_http_address: p.node_http_address.unwrap_or_default(),
            resource: Resource::from_proto(p.resource),
            priority: p.priority.and_then(|p| p.priority).unwrap_or(0),
            container_token: token_from_proto(token),
        })
    }
}

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerState {
    New,
    Running,
    Complete,
    /// Queued at the NodeManager (opportunistic containers).
    Scheduled,
}

/// A container's state and, once complete, its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerStatus {
    pub id: ContainerId,
    pub state: ContainerState,
    /// The process exit code, or one of [`exit_status`]; [`exit_status::INVALID`] while running.
    pub exit_status: i32,
    pub diagnostics: String,
}

impl ContainerStatus {
    pub(crate) fn from_proto(p: ContainerStatusProto) -> Result<Self> {
        use ContainerStateProto as P;
        let v = p
            .state
            .ok_or_else(|| Error::missing("container status", "state"))?;
        let state = match P::try_from(v) {
            Ok(P::CNew) => ContainerState::New,
            Ok(P::CRunning) => ContainerState::Running,
            Ok(P::CComplete) => ContainerState::Complete,
            Ok(P::CScheduled) => ContainerState::Scheduled,
            Err(_) => return Err(Error::protocol(format!("unknown container state {v}"))),
        };
        Ok(ContainerStatus {
            id: ContainerId::from_proto(p.container_id)?,
            state,
            exit_status: p.exit_status.unwrap_or(exit_status::INVALID),
            diagnostics: p.diagnostics.unwrap_or_else(|| "N/A".into()),
        })
    }
}

/// A NodeManager's refusal for one container of a batch call (the Java exception it would throw).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFailure {
    pub id: ContainerId,
    /// Java class name, e.g. `org.apache.hadoop.yarn.exceptions.YarnException`.
    pub class_name: String,
    pub message: String,
}

impl ContainerFailure {
    pub(crate) fn from_proto(p: ContainerExceptionMapProto) -> Result<Self> {
        let e = p.exception.unwrap_or_default();
        Ok(ContainerFailure {
            id: ContainerId::from_proto(p.container_id)?,
            class_name: e.class_name.unwrap_or_default(),
            message: e.message.unwrap_or_default(),
        })
    }
}

pub(crate) fn token_from_proto(p: TokenProto) -> Token {
    Token {
        identifier: p.identifier,
        password: p.password,
        kind: p.kind,
        service: p.service,
    }
}

pub(crate) fn token_into_proto(t: Token) -> TokenProto {
    TokenProto {
        identifier: t.identifier,
        password: t.password,
        kind: t.kind,
        service: t.service,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ApplicationAttemptId, ApplicationId};

    fn cid() -> ContainerId {
        ContainerId {
            attempt: ApplicationAttemptId {
                application: ApplicationId {
                    cluster_timestamp: 5,
                    id: 1,
                },
                attempt: 1,
            },
            id: 2,
        }
    }

    #[test]
    fn host_asks_pin_the_location() {
        let asks = ResourceRequest::on_host(1, "127.0.0.3", "/default-rack", Resource::new(128, 1), 2);
        let names: Vec<(&str, bool, i32)> = asks
            .iter()
            .map(|a| (a.resource_name.as_str(), a.relax_locality, a.num_containers))
            .collect();
        assert_eq!(
            names,
            vec![
                ("127.0.0.3", true, 2),
                ("/default-rack", false, 2),
                ("*", false, 2)
            ]
        );
        let p = asks[1].clone().into_proto();
        assert_eq!(p.relax_locality, Some(false));
        assert_eq!(
            ResourceRequest::anywhere(0, Resource::new(1, 1), 1).resource_name,
            "*"
        );
    }

    #[test]
    fn container_needs_id_node_and_token() {
        let p = ContainerProto {
            id: Some(cid().into_proto()),
            node_id: Some(
                NodeId {
                    host: "h".into(),
                    port: 1,
                }
                .into_proto(),
            ),
            container_token: Some(TokenProto {
                kind: "ContainerToken".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let c = Container::from_proto(p.clone()).unwrap();
        assert_eq!((c.id, c.container_token.kind.as_str()), (cid(), "ContainerToken"));
        assert!(Container::from_proto(ContainerProto {
            container_token: None,
            ..p.clone()
        })
        .is_err());
        assert!(Container::from_proto(ContainerProto { node_id: None, ..p }).is_err());
    }

    #[test]
    fn statuses() {
        let p = ContainerStatusProto {
            container_id: Some(cid().into_proto()),
            state: Some(ContainerStateProto::CComplete as i32),
            diagnostics: None,
            exit_status: Some(exit_status::KILLED_BY_APPMASTER),
        };
        let s = ContainerStatus::from_proto(p.clone()).unwrap();
        assert_eq!((s.state, s.exit_status), (ContainerState::Complete, -105));
        let running = ContainerStatus::from_proto(ContainerStatusProto {
            state: Some(ContainerStateProto::CRunning as i32),
            exit_status: None,
            ..p.clone()
        })
        .unwrap();
        assert_eq!(running.exit_status, exit_status::INVALID);
        assert!(ContainerStatus::from_proto(ContainerStatusProto {
            state: Some(99),
            ..p.clone()
        })
        .is_err());
        assert!(ContainerStatus::from_proto(ContainerStatusProto { state: None, ..p }).is_err());
    }
}
