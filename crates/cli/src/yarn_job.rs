//! The job of a per-job YARN application with more than one attempt
//! (`yarn.application-attempts`): the client stages the job binary (`spate-job`) and how it was
//! started (`spate-job.json`: arguments, configuration, working directory) as local resources of
//! the ApplicationMaster, so that a later attempt, whose JobManager starts empty, submits the job
//! again to itself (detached, in the submit role, as `spate run` would).

use anyhow::{anyhow, Context as _, Result};
use spate_cluster::role;
use spate_common::config::ENV_DYNAMIC_PROPERTIES;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Link name of the staged job binary.
pub(crate) const JOB_BINARY_RESOURCE: &str = "spate-job";
/// Link name of the staged job description.
pub(crate) const JOB_SPEC_RESOURCE: &str = "spate-job.json";

/// How a per-job job was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobSpec {
    /// The job binary on the client's machine.
    pub(crate) binary: PathBuf,
    pub(crate) args: Vec<String>,
    /// `SPATE_DYNAMIC_PROPERTIES` of the job (`key=value` lines).
    pub(crate) properties: String,
    /// The client's working directory (the job's relative paths resolve there when it exists).
    pub(crate) working_dir: String,
}

impl JobSpec {
    /// The staged description (without the binary's path, which is the staged binary's).
    pub(crate) fn to_json(&self) -> String {
        serde_json::json!({
            "args": self.args,
            "properties": self.properties,
            "working_dir": self.working_dir,
        })
        .to_string()
    }

    /// Reads a description written by [`JobSpec::to_json`]; the binary is `binary`.
    pub(crate) fn from_json(text: &str, binary: &Path) -> Result<JobSpec> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| anyhow!("{JOB_SPEC_RESOURCE} is not JSON: {e}"))?;
        let field = |name: &str| {
            v.get(name)
                .ok_or_else(|| anyhow!("{JOB_SPEC_RESOURCE} has no '{name}'"))
        };
        let args = field("args")?
            .as_array()
            .ok_or_else(|| anyhow!("{JOB_SPEC_RESOURCE}: 'args' is not a list"))?
            .iter()
            .map(|a| {
                a.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| anyhow!("{JOB_SPEC_RESOURCE}: an argument is not a string"))
            })
            .collect::<Result<Vec<_>>>()?;
        let text_of = |name: &str| -> Result<String> {
            field(name)?
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("{JOB_SPEC_RESOURCE}: '{name}' is not a string"))
        };
        Ok(JobSpec {
            binary: binary.to_path_buf(),
            args,
            properties: text_of("properties")?,
            working_dir: text_of("working_dir")?,
        })
    }
}

/// The staged job of this ApplicationMaster's container, if the client staged one.
pub(crate) fn staged_job() -> Result<Option<JobSpec>> {
    let spec = Path::new(JOB_SPEC_RESOURCE);
    if !spec.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(spec).with_context(|| format!("cannot read {JOB_SPEC_RESOURCE}"))?;
    let binary = std::fs::canonicalize(JOB_BINARY_RESOURCE)
        .with_context(|| format!("the staged job binary {JOB_BINARY_RESOURCE} is missing"))?;
    JobSpec::from_json(&text, &binary).map(Some)
}

/// Submits `job` to the JobManager at `jobmanager` (detached) and waits for the submission.
pub(crate) fn submit(job: &JobSpec, jobmanager: &str, secret: &str) -> Result<()> {
    let mut command = Command::new(&job.binary);
    command
        .args(&job.args)
        .env(ENV_DYNAMIC_PROPERTIES, &job.properties)
        .env(role::ENV_ROLE, "submit")
        .env(role::ENV_JOBMANAGER, jobmanager)
        .env(role::ENV_SECRET, secret)
        .env(role::ENV_JOB_BINARY, &job.binary)
        .env(role::ENV_DETACHED, "1");
    if Path::new(&job.working_dir).is_dir() {
        command.current_dir(&job.working_dir);
    }
    let status = command
        .status()
        .with_context(|| format!("cannot start the job binary {}", job.binary.display()))?;
    if !status.success() {
        return Err(anyhow!(
            "submitting the job again failed: the job binary ended with {status}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_spec_round_trip() {
        let spec = JobSpec {
            binary: PathBuf::from("/x/spate-job"),
            args: vec!["--input".into(), "a b\"c".into()],
            properties: "parallelism.default=2\nexecution.runtime-mode=BATCH".into(),
            working_dir: "/home/u".into(),
        };
        assert_eq!(JobSpec::from_json(&spec.to_json(), &spec.binary).unwrap(), spec);
        assert!(JobSpec::from_json("{}", &spec.binary).is_err());
        assert!(JobSpec::from_json("garbage", &spec.binary).is_err());
    }
}
