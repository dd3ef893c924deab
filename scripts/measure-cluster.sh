#!/usr/bin/env bash
# What a cluster costs on one machine: the same drop from the flash-sale tool
# against one stampede (single mode) and against three cluster nodes (the
# burst's connections spread over them), alternately, ROUNDS times (default
# 2), release builds, over one MariaDB and the local NATS. Each drain's CPU
# is split by process and thread (scripts/burst-cpu.py), and each node's
# forwarding counts are read from GET /api/v1/admin/cluster.
#
#   scripts/measure-cluster.sh [flash-sale flags, e.g. --purchases 10000]
#
# Writes under target/cluster-measure/<single|cluster>-<round>/ (cpu.txt,
# results.json, cluster-n*.json). NO_BUILD=1 uses target/release as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/cluster-nodes.sh

ROUNDS=${ROUNDS:-2}
work=target/cluster-measure
[ -n "${NO_BUILD:-}" ] || cargo build --release --bin stampede --example flash-sale
export STAMPEDE_NATS_URL=${STAMPEDE_NATS_URL:-nats://127.0.0.1:4222}
export DATABASE_URL=mysql://root@127.0.0.1:3306/stampede_measure
STAMPEDE_JWT_SECRET=$(secret)
STAMPEDE_REFRESH_TOKEN_SECRET=$(secret)
export STAMPEDE_JWT_SECRET STAMPEDE_REFRESH_TOKEN_SECRET
export STAMPEDE_ADMIN_EMAIL=ops@measure.local STAMPEDE_ADMIN_PASSWORD=measure-admin-password
export STAMPEDE_RATE_LIMIT_ENABLED=false STAMPEDE_REQUIRE_VERIFIED_EMAIL=false
export STAMPEDE_MAIL_DIR=$work/mail RUST_LOG=warn
db_pid=$(pgrep -xo mariadbd || pgrep -xo mysqld)
pids=()
trap stop_nodes EXIT

for round in $(seq 1 "$ROUNDS"); do
  for shape in single cluster; do
    out=$work/$shape-$round
    rm -rf "$out"
    mkdir -p "$out"
    fresh_database "$DATABASE_URL"
    if [ "$shape" = single ]; then
      start_single 8190 "$out"
    else
      STAMPEDE_CLUSTER_BUCKET="measure_$$_$round" start_nodes 3 8190 "$out"
      sleep 2 # the shards spread over the three nodes
    fi
    watch=()
    for pid in "${pids[@]}"; do watch+=(--server-pid "$pid"); done
    targets=$(IFS=,; echo "${bases[*]}")
    python3 scripts/burst-cpu.py "${watch[@]}" --db-pid "$db_pid" --out "$out" -- \
      target/release/examples/flash-sale --target "$targets" --out "$out" "$@" \
      | tee "$out/cpu.txt"
    if [ "$shape" = cluster ]; then
      token=$(curl -fs "${bases[0]}/api/v1/auth/login" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$STAMPEDE_ADMIN_EMAIL\",\"password\":\"$STAMPEDE_ADMIN_PASSWORD\"}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
      for i in "${!bases[@]}"; do
        curl -fs "${bases[$i]}/api/v1/admin/cluster" -H "Authorization: Bearer $token" \
          >"$out/cluster-n$((i + 1)).json"
        python3 -c 'import json,sys; f=json.load(open(sys.argv[1]))["forwarding"]; print(sys.argv[2], f)' \
          "$out/cluster-n$((i + 1)).json" "n$((i + 1))"
      done
    fi
    stop_nodes
    pids=()
  done
done
