#!/usr/bin/env bash
# Interoperability smoke test of the real Hadoop minicluster, run by scripts/test.sh when a
# minicluster is up (HADOOP_CONF_DIR set): Hadoop's own clients write a multi-block file to HDFS,
# its blocks must be replicated on the three simulated hosts 127.0.0.2-4, and YARN must report
# three RUNNING NodeManagers named by those hosts.
set -euo pipefail
cd "$(dirname "$0")/../.."
cli=scripts/hadoop-cli.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

head -c 3000000 /dev/urandom | base64 > "$tmp/in.txt"
$cli fs -D dfs.blocksize=1048576 -put -f "$tmp/in.txt" /smoke.txt
$cli fs -get /smoke.txt "$tmp/back.txt"
cmp "$tmp/in.txt" "$tmp/back.txt" || { echo "FAIL: HDFS round trip changed the file"; exit 1; }

fsck=$($cli fsck /smoke.txt -files -blocks -locations)
for host in 127.0.0.2 127.0.0.3 127.0.0.4; do
  grep -q "$host:" <<<"$fsck" || { echo "FAIL: no replica on $host"; echo "$fsck"; exit 1; }
done
grep -q "Status: HEALTHY" <<<"$fsck" || { echo "FAIL: file not healthy"; echo "$fsck"; exit 1; }

nodes=$($cli node -list -all)
running=$(grep -cE '^[[:space:]]*127\.0\.0\.[234]:[0-9]+[[:space:]]+RUNNING' <<<"$nodes" || true)
[ "$running" = 3 ] || { echo "FAIL: expected 3 RUNNING NodeManagers on 127.0.0.2-4"; echo "$nodes"; exit 1; }
$cli application -list >/dev/null
$cli fs -rm -skipTrash /smoke.txt >/dev/null
echo "minicluster smoke: HDFS round trip, 3-host block placement and 3 NodeManagers OK"
