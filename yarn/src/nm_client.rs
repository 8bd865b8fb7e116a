//! `NmClient`: an ApplicationMaster's client of one NodeManager's `ContainerManagementProtocol` —
//! start, stop and query the containers the ResourceManager allocated there. Authenticated with
//! the NMToken the RM sent for that node (SASL TOKEN/DIGEST-MD5, required even on insecure
//! clusters).
//!
//! The batch calls report per-container refusals in their answer (the RPC itself succeeds);
//! the single-container helpers turn a refusal into [`Error::Container`].
//!
//! ```no_run
//! # fn demo(am: &spate_yarn::AmRmClient, c: &spate_yarn::Container) -> spate_yarn::Result<()> {
//! use spate_yarn::{ContainerLaunchContext, NmClient};
//! let token = am.nm_token(&c.node_id).expect("an NMToken comes with the first container on a node");
//! let nm = NmClient::connect(&c.node_id, token)?;
//! let launch = ContainerLaunchContext {
//!     commands: vec!["echo hi 1><LOG_DIR>/stdout".into()],
//!     ..Default::default()
//! };
//! nm.start_container(c, &launch)?;
//! # Ok(()) }
//! ```

use spate_hadoop_ipc::{Auth, ConnectOptions, Token};

use crate::container::{token_into_proto, Container, ContainerFailure, ContainerStatus};
use crate::error::{Error, Result};
use crate::ids::{ContainerId, NodeId};
use crate::launch::ContainerLaunchContext;
use crate::proto::yarn::{
    GetContainerStatusesRequestProto, GetContainerStatusesResponseProto, StartContainerRequestProto,
    StartContainersRequestProto, StartContainersResponseProto, StopContainersRequestProto,
    StopContainersResponseProto,
};
use crate::rpc::Channel;

/// Protocol name of ApplicationMaster → NodeManager calls (version 1).
pub const CONTAINER_MANAGEMENT_PROTOCOL: &str = "org.apache.hadoop.yarn.api.ContainerManagementProtocolPB";

/// One container to start: its container token (from the allocation) and how to run it.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub container_token: Token,
    pub launch: ContainerLaunchContext,
}

/// Which containers of a batch call the NodeManager accepted and which it refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub succeeded: Vec<ContainerId>,
    pub failed: Vec<ContainerFailure>,
}

/// The statuses a NodeManager reported, and its refusals (e.g. a container it does not know).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusOutcome {
    pub statuses: Vec<ContainerStatus>,
    pub failed: Vec<ContainerFailure>,
}

/// A connection to one NodeManager.
#[derive(Debug)]
pub struct NmClient {
    node: NodeId,
    channel: Channel,
}

impl NmClient {
    /// Connects to the NodeManager `node` (its RPC address) with that node's NMToken.
    pub fn connect(node: &NodeId, nm_token: Token) -> Result<Self> {
        Self::connect_with(node, nm_token, ConnectOptions::default())
    }

    /// Connects with the given options.
    pub fn connect_with(node: &NodeId, nm_token: Token, opts: ConnectOptions) -> Result<Self> {
        let channel = Channel::connect(
            &node.address(),
            CONTAINER_MANAGEMENT_PROTOCOL,
            Auth::Token(nm_token),
            opts,
        )?;
        Ok(NmClient {
            node: node.clone(),
            channel,
        })
    }

    /// The NodeManager this client talks to.
    pub fn node(&self) -> &NodeId {
        &self.node
    }

    /// Starts containers allocated on this node.
    pub fn start_containers(&self, requests: &[StartRequest]) -> Result<BatchOutcome> {
        let req = StartContainersRequestProto {
            start_container_request: requests
                .iter()
                .map(|r| StartContainerRequestProto {
                    container_launch_context: Some(r.launch.clone().into_proto()),
                    container_token: Some(token_into_proto(r.container_token.clone())),
                })
                .collect(),
        };
        let resp: StartContainersResponseProto = self.channel.call("startContainers", &req)?;
        outcome(resp.succeeded_requests, resp.failed_requests)
    }

    /// Starts one container; a refusal is [`Error::Container`].
    pub fn start_container(&self, container: &Container, launch: &ContainerLaunchContext) -> Result<()> {
        let outcome = self.start_containers(&[StartRequest {
            container_token: container.container_token.clone(),
            launch: launch.clone(),
        }])?;
        self.single("start", container.id, outcome)
    }

    /// Stops containers (SIGTERM, then SIGKILL after the NM's grace period); they complete with
    /// exit status [`crate::exit_status::KILLED_BY_APPMASTER`].
    pub fn stop_containers(&self, ids: &[ContainerId]) -> Result<BatchOutcome> {
        let req = StopContainersRequestProto {
            container_id: ids.iter().map(|c| c.into_proto()).collect(),
        };
        let resp: StopContainersResponseProto = self.channel.call("stopContainers", &req)?;
        outcome(resp.succeeded_requests, resp.failed_requests)
    }

    /// Stops one container; a refusal is [`Error::Container`].
    pub fn stop_container(&self, id: ContainerId) -> Result<()> {
        let outcome = self.stop_containers(&[id])?;
        self.single("stop", id, outcome)
    }

    /// The current status of containers on this node.
    pub fn get_container_statuses(&self, ids: &[ContainerId]) -> Result<StatusOutcome> {
        let req = GetContainerStatusesRequestProto {
            container_id: ids.iter().map(|c| c.into_proto()).collect(),
        };
        let resp: GetContainerStatusesResponseProto = self.channel.call("getContainerStatuses", &req)?;
        Ok(StatusOutcome {
            statuses: resp
                .status
                .into_iter()
                .map(ContainerStatus::from_proto)
                .collect::<Result<_>>()?,
            failed: resp
                .failed_requests
                .into_iter()
                .map(ContainerFailure::from_proto)
                .collect::<Result<_>>()?,
        })
    }

    /// Ok when `id` succeeded, else its failure as an error.
    fn single(&self, op: &'static str, id: ContainerId, outcome: BatchOutcome) -> Result<()> {
        if outcome.succeeded.contains(&id) {
            return Ok(());
        }
        let (class_name, message) = match outcome.failed.into_iter().find(|f| f.id == id) {
            Some(f) => (f.class_name, f.message),
            None => (
                String::new(),
                "the nodemanager reported neither success nor failure".into(),
            ),
        };
        Err(Error::Container {
            op,
            container: id.to_string(),
            node: self.node.to_string(),
            class_name,
            message,
        })
    }
}

fn outcome(
    succeeded: Vec<crate::proto::yarn::ContainerIdProto>,
    failed: Vec<crate::proto::yarn::ContainerExceptionMapProto>,
) -> Result<BatchOutcome> {
    Ok(BatchOutcome {
        succeeded: succeeded
            .into_iter()
            .map(|c| ContainerId::from_proto(Some(c)))
            .collect::<Result<_>>()?,
        failed: failed
            .into_iter()
            .map(ContainerFailure::from_proto)
            .collect::<Result<_>>()?,
    })
}
