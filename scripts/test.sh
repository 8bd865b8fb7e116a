#!/usr/bin/env bash
# The project's test command (README.md): formatting, lints, every Rust test, and — when a Hadoop
# minicluster is running (HADOOP_CONF_DIR set, as .ci/run arranges) — the Hadoop interop tests.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== build (binaries and examples are used by the end-to-end tests)"
cargo build --workspace --bins --examples
echo "== cargo test"
cargo test --workspace
if [ -n "${HADOOP_CONF_DIR:-}" ]; then
  echo "== Hadoop minicluster interop"
  tests/hadoop/minicluster_smoke.sh
else
  echo "== Hadoop minicluster interop: skipped (no HADOOP_CONF_DIR; scripts/minicluster.sh start provides one)"
fi
