//! Spate's HDFS connectors against the real Hadoop minicluster (`scripts/minicluster.sh start`,
//! then `eval "$(scripts/minicluster.sh env)"`). Without `HADOOP_CONF_DIR` the tests that need
//! HDFS print a skip message and pass, unless `SPATE_REQUIRE_HADOOP=1`.
#![allow(clippy::unwrap_used)]

mod checkpoints;
mod csv;
mod errors;
mod fixture;
mod ha;
mod locality;
mod parquet;
mod parquet_types;
mod read;
mod write;
mod yarn_jobs;
mod yarn_session;
