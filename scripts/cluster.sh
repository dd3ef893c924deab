#!/usr/bin/env bash
# Runs N stampede nodes (default 3) as one cluster on this machine, over one
# MariaDB and one NATS with JetStream, until Ctrl-C (which stops them cleanly:
# each hands its shards over). Node i listens on 127.0.0.1:$((BASE_PORT + i)).
#
#   scripts/cluster.sh                 # 3 nodes on 8081..8083, release build
#   NODES=5 scripts/cluster.sh --fresh # 5 nodes on a freshly created database
#   scripts/cluster.sh --load          # budgets raised for the flash-sale tool:
#       cargo run --release --example flash-sale -- \
#         --target http://127.0.0.1:8081,http://127.0.0.1:8082,http://127.0.0.1:8083
#
# Environment: DATABASE_URL (default mysql://root@127.0.0.1:3306/stampede_cluster),
# STAMPEDE_NATS_URL (default nats://127.0.0.1:4222), NODES, BASE_PORT (8080),
# STAMPEDE_CLUSTER_SHARDS, STAMPEDE_CLUSTER_LEASE_MS, and any other
# STAMPEDE_* setting, passed to every node. The nodes share one pair of token
# secrets (made up here unless set), so a token from one node works on all.
set -euo pipefail
cd "$(dirname "$0")/.."

NODES=${NODES:-3}
BASE_PORT=${BASE_PORT:-8080}
export DATABASE_URL=${DATABASE_URL:-mysql://root@127.0.0.1:3306/stampede_cluster}
export STAMPEDE_NATS_URL=${STAMPEDE_NATS_URL:-nats://127.0.0.1:4222}
export STAMPEDE_JWT_SECRET=${STAMPEDE_JWT_SECRET:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}
export STAMPEDE_REFRESH_TOKEN_SECRET=${STAMPEDE_REFRESH_TOKEN_SECRET:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}
export STAMPEDE_ADMIN_EMAIL=${STAMPEDE_ADMIN_EMAIL:-ops@cluster.local}
export STAMPEDE_ADMIN_PASSWORD=${STAMPEDE_ADMIN_PASSWORD:-cluster-admin-password}
export RUST_LOG=${RUST_LOG:-warn}

for arg in "$@"; do
  case "$arg" in
    --fresh)
      db=${DATABASE_URL##*/}
      server=${DATABASE_URL%/*}
      host=${server#*@}; host=${host%:*}
      port=${server##*:}
      mysql -uroot -h"$host" -P"$port" -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
      ;;
    --load)
      # The flash-sale tool signs up its buyers unverified and buys hard.
      export STAMPEDE_REQUIRE_VERIFIED_EMAIL=false
      export STAMPEDE_MAIL_NOTIFICATIONS=false
      export STAMPEDE_RATE_LIMIT_AUTH_BURST=${STAMPEDE_RATE_LIMIT_AUTH_BURST:-100000}
      export STAMPEDE_RATE_LIMIT_PURCHASE_BURST=${STAMPEDE_RATE_LIMIT_PURCHASE_BURST:-100000}
      ;;
    *) echo "unknown option $arg (use --fresh, --load)" >&2; exit 2 ;;
  esac
done

cargo build --release --bin stampede
pids=()
stop() {
  echo "stopping ${#pids[@]} nodes (each hands its shards over)"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT

for i in $(seq 1 "$NODES"); do
  port=$((BASE_PORT + i))
  STAMPEDE_NODE_ID="n$i" STAMPEDE_BIND="127.0.0.1:$port" target/release/stampede &
  pids+=($!)
  # One after the other: the first migrates the schema and makes the admin.
  for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null && break
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "node n$i exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "node n$i ready on http://127.0.0.1:$port"
done
echo "cluster up; watch GET /api/v1/admin/cluster (admin $STAMPEDE_ADMIN_EMAIL); Ctrl-C stops it"
wait
