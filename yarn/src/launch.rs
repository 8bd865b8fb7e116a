//! What a container is started with ([`ContainerLaunchContext`]: commands, environment, files to
//! localize) and what an application is submitted with ([`ApplicationSubmission`]).

use std::collections::BTreeMap;

use crate::ids::ApplicationId;
use crate::proto::yarn::{
    ApplicationSubmissionContextProto, ContainerLaunchContextProto, LocalResourceProto,
    LocalResourceTypeProto, LocalResourceVisibilityProto, PriorityProto, StringLocalResourceMapProto,
    StringStringMapProto, UrlProto,
};
use crate::records::Resource;

/// Where a NodeManager downloads a [`LocalResource`] from. The NodeManager rebuilds the URI as
/// `scheme://host:port/file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceUrl {
    /// `hdfs` for files staged in HDFS.
    pub scheme: String,
    pub host: String,
    /// Always set: an unset port would be read as 0. -1 means "the scheme's default".
    pub port: i32,
    /// Absolute path.
    pub file: String,
}

/// How a NodeManager treats a downloaded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalResourceType {
    /// Copied as is.
    File,
    /// Unpacked (`.jar`, `.zip`, `.tar.gz`, `.tgz`, `.tar`).
    Archive,
}

/// Who shares a downloaded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalResourceVisibility {
    /// Every application on the node (the file and its parents must be world-readable).
    Public,
    /// The user's applications.
    Private,
    /// This application only.
    Application,
}

/// A file a NodeManager downloads into the container's working directory before starting it,
/// under the link name it is registered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResource {
    pub url: ResourceUrl,
    /// Length in bytes.
    pub size: i64,
    /// Modification time of the source file in ms; must match it exactly, or localization fails
    /// with "changed on src filesystem".
    pub timestamp: i64,
    pub kind: LocalResourceType,
    pub visibility: LocalResourceVisibility,
}

impl LocalResource {
    /// A file in HDFS, private to the application (what Spate ships its binaries as).
    pub fn hdfs_file(namenode_host: &str, namenode_port: u16, path: &str, size: i64, timestamp: i64) -> Self {
        LocalResource {
            url: ResourceUrl {
                scheme: "hdfs".into(),
                host: namenode_host.to_string(),
                port: i32::from(namenode_port),
                file: path.to_string(),
            },
            size,
            timestamp,
            kind: LocalResourceType::File,
            visibility: LocalResourceVisibility::Application,
        }
    }

    pub(crate) fn into_proto(self) -> LocalResourceProto {
        let kind = match self.kind {
            LocalResourceType::File => LocalResourceTypeProto::File,
            LocalResourceType::Archive => LocalResourceTypeProto::Archive,
        };
        let visibility = match self.visibility {
            LocalResourceVisibility::Public => LocalResourceVisibilityProto::Public,
            LocalResourceVisibility::Private => LocalResourceVisibilityProto::Private,
            LocalResourceVisibility::Application => LocalResourceVisibilityProto::Application,
        };
        LocalResourceProto {
            resource: Some(UrlProto {
                scheme: Some(self.url.scheme),
                host: Some(self.url.host),
                port: Some(self.url.port),
                file: Some(self.url.file),
                user_info: None,
            }),
            size: Some(self.size),
            timestamp: Some(self.timestamp),
            r#type: Some(kind as i32),
            visibility: Some(visibility as i32),
        }
    }
}

/// How to start a container: the NodeManager localizes the files, exports the environment and
/// runs the commands joined by spaces with `bash -c "…"`. In commands and environment values,
/// `<LOG_DIR>` becomes the container's log directory and `{{VAR}}` becomes `$VAR`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerLaunchContext {
    /// Parts of one shell command line, e.g. `["./spate-tm", "1><LOG_DIR>/stdout"]`.
    pub commands: Vec<String>,
    pub environment: BTreeMap<String, String>,
    /// Link name in the working directory → file to download.
    pub local_resources: BTreeMap<String, LocalResource>,
    /// A Hadoop token storage blob (`HDTS…`) written to the container's token file; `None` on
    /// insecure clusters. The ResourceManager parses it, so it must be absent or valid.
    pub tokens: Option<Vec<u8>>,
}

impl ContainerLaunchContext {
    pub(crate) fn into_proto(self) -> ContainerLaunchContextProto {
        ContainerLaunchContextProto {
            local_resources: self
                .local_resources
                .into_iter()
                .map(|(key, value)| StringLocalResourceMapProto {
                    key: Some(key),
                    value: Some(value.into_proto()),
                })
                .collect(),
            tokens: self.tokens,
            environment: self
                .environment
                .into_iter()
                .map(|(key, value)| StringStringMapProto {
                    key: Some(key),
                    value: Some(value),
                })
                .collect(),
            command: self.commands,
        }
    }
}

/// Everything [`crate::ClientRmClient::submit_application`] sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationSubmission {
    /// From [`crate::ClientRmClient::get_new_application`].
    pub id: ApplicationId,
    pub name: String,
    pub queue: String,
    /// Shown by `yarn application -list` and usable as a filter.
    pub application_type: String,
    /// The ApplicationMaster's container.
    pub am: ContainerLaunchContext,
    pub am_resource: Resource,
    /// Attempts before the application fails; `None` = the cluster's
    /// `yarn.resourcemanager.am.max-attempts` (which also caps this).
    pub max_app_attempts: Option<i32>,
    /// Containers survive an AM failure and are handed to the next attempt.
    pub keep_containers_across_attempts: bool,
    pub priority: Option<i32>,
    pub tags: Vec<String>,
}

impl ApplicationSubmission {
    /// A submission of type `Spate` to queue `default`, one attempt, other fields empty.
    pub fn new(id: ApplicationId, name: &str, am: ContainerLaunchContext, am_resource: Resource) -> Self {
        ApplicationSubmission {
            id,
            name: name.to_string(),
            queue: "default".into(),
            application_type: "Spate".into(),
            am,
            am_resource,
            max_app_attempts: Some(1),
            keep_containers_across_attempts: false,
            priority: None,
            tags: Vec::new(),
        }
    }

    pub(crate) fn into_proto(self) -> ApplicationSubmissionContextProto {
        ApplicationSubmissionContextProto {
            application_id: Some(self.id.into_proto()),
            application_name: Some(self.name),
            queue: Some(self.queue),
            priority: self.priority.map(|p| PriorityProto { priority: Some(p) }),
            am_container_spec: Some(self.am.into_proto()),
            max_app_attempts: self.max_app_attempts,
            resource: Some(self.am_resource.into_proto()),
            application_type: Some(self.application_type),
            keep_containers_across_application_attempts: Some(self.keep_containers_across_attempts),
            application_tags: self.tags,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn submission_encodes_every_field_explicitly() {
        let mut am = ContainerLaunchContext {
            commands: vec!["./am".into(), "1><LOG_DIR>/stdout".into()],
            ..Default::default()
        };
        am.environment.insert("K".into(), "V".into());
        am.local_resources.insert(
            "am".into(),
            LocalResource::hdfs_file("127.0.0.1", 9000, "/user/u/.spate/a/am", 10, 1234),
        );
        let id = ApplicationId {
            cluster_timestamp: 1,
            id: 2,
        };
        let mut sub = ApplicationSubmission::new(id, "job", am, Resource::new(256, 1));
        sub.keep_containers_across_attempts = true;
        let p = sub.into_proto();
        let bytes = p.encode_to_vec();
        let back = ApplicationSubmissionContextProto::decode(bytes.as_slice()).unwrap();
        assert_eq!(back.application_type(), "Spate");
        assert_eq!(back.queue(), "default");
        assert_eq!(back.max_app_attempts, Some(1));
        assert_eq!(back.keep_containers_across_application_attempts, Some(true));
        let clc = back.am_container_spec.unwrap();
        assert_eq!(clc.command, vec!["./am", "1><LOG_DIR>/stdout"]);
        let lr = clc.local_resources[0].value.clone().unwrap();
        let url = lr.resource.unwrap();
        assert_eq!(
            (url.scheme(), url.host(), url.port, url.file()),
            ("hdfs", "127.0.0.1", Some(9000), "/user/u/.spate/a/am")
        );
        assert_eq!((lr.size, lr.timestamp), (Some(10), Some(1234)));
        assert_eq!(lr.r#type, Some(LocalResourceTypeProto::File as i32));
        assert_eq!(
            lr.visibility,
            Some(LocalResourceVisibilityProto::Application as i32)
        );
        assert_eq!(clc.tokens, None);
    }
}
