//! What the minicluster tests share: the skip rule, YARN's own CLI, the user's HDFS home.
#![allow(dead_code)] // each test binary uses a part

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Once;

use spate_hadoop_ipc::namenode::current_user;
use spate_yarn::YarnConf;

/// The cluster's configuration, or `None` (after a skip message) without `HADOOP_CONF_DIR`.
pub fn conf() -> Option<YarnConf> {
    if std::env::var_os("HADOOP_CONF_DIR").is_none() {
        if std::env::var("SPATE_REQUIRE_HADOOP").as_deref() == Ok("1") {
            panic!("SPATE_REQUIRE_HADOOP=1 but HADOOP_CONF_DIR is not set (scripts/minicluster.sh env)");
        }
        eprintln!("skipping: HADOOP_CONF_DIR is not set (start one with scripts/minicluster.sh start)");
        return None;
    }
    ensure_home(&current_user());
    Some(YarnConf::from_env().expect("read HADOOP_CONF_DIR"))
}

/// Runs `scripts/hadoop-cli.sh ARGS` (Hadoop's own Java clients).
pub fn cli_output(args: &[&str]) -> Output {
    Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/hadoop-cli.sh"))
        .args(args)
        .output()
        .expect("run scripts/hadoop-cli.sh")
}

/// Runs `scripts/hadoop-cli.sh ARGS`, requires success, returns stdout.
pub fn cli(args: &[&str]) -> String {
    let out = cli_output(args);
    assert!(
        out.status.success(),
        "hadoop-cli.sh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Makes `/user/<user>` exist and belong to `user`, as a cluster admin does for every user:
/// staging writes there as `user`. (The CLI runs as the cluster's superuser, who started it.)
fn ensure_home(user: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let home = format!("/user/{user}");
        let owner = cli_output(&["fs", "-stat", "%u", &home]);
        if owner.status.success() && String::from_utf8_lossy(&owner.stdout).trim() == user {
            return;
        }
        cli(&["fs", "-mkdir", "-p", &home]);
        cli(&["fs", "-chown", "-R", user, &home]);
    });
}
