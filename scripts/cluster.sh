#!/usr/bin/env bash
# Runs N stampede nodes (default 3) as one cluster on this machine, over one
# MariaDB and one NATS with JetStream, until Ctrl-C (which stops them cleanly:
# each hands its shards over). Node i listens on 127.0.0.1:$((BASE_PORT + i)),
# its log in target/cluster/n$i.log.
#
#   scripts/cluster.sh                 # 3 nodes on 8081..8083, release build
#   NODES=5 scripts/cluster.sh --fresh # 5 nodes on a freshly created database
#   scripts/cluster.sh --load          # budgets off, for the flash-sale tool:
#       cargo run --release --example flash-sale -- \
#         --target http://127.0.0.1:8081,http://127.0.0.1:8082,http://127.0.0.1:8083
#
# Environment: DATABASE_URL (default mysql://root@127.0.0.1:3306/stampede_cluster),
# STAMPEDE_NATS_URL (default nats://127.0.0.1:4222), NODES, BASE_PORT (8080),
# and any other STAMPEDE_* setting (STAMPEDE_CLUSTER_SHARDS, ..._LEASE_MS),
# passed to every node. The token secrets are made up here unless set.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/cluster-nodes.sh

NODES=${NODES:-3}
BASE_PORT=${BASE_PORT:-8080}
export DATABASE_URL=${DATABASE_URL:-mysql://root@127.0.0.1:3306/stampede_cluster}
export STAMPEDE_NATS_URL=${STAMPEDE_NATS_URL:-nats://127.0.0.1:4222}
export STAMPEDE_JWT_SECRET=${STAMPEDE_JWT_SECRET:-$(secret)}
export STAMPEDE_REFRESH_TOKEN_SECRET=${STAMPEDE_REFRESH_TOKEN_SECRET:-$(secret)}
export STAMPEDE_ADMIN_EMAIL=${STAMPEDE_ADMIN_EMAIL:-ops@cluster.local}
export STAMPEDE_ADMIN_PASSWORD=${STAMPEDE_ADMIN_PASSWORD:-cluster-admin-password}
export RUST_LOG=${RUST_LOG:-warn}

for arg in "$@"; do
  case "$arg" in
    --fresh) fresh_database "$DATABASE_URL" ;;
    --load)
      # The flash-sale tool signs up its buyers unverified, by the hundred.
      export STAMPEDE_RATE_LIMIT_ENABLED=false STAMPEDE_REQUIRE_VERIFIED_EMAIL=false
      ;;
    *) echo "unknown option $arg (use --fresh, --load)" >&2; exit 2 ;;
  esac
done

cargo build --release --bin stampede
trap stop_nodes INT TERM EXIT
start_nodes "$NODES" "$BASE_PORT" target/cluster
echo "cluster up; watch GET /api/v1/admin/cluster (admin $STAMPEDE_ADMIN_EMAIL); Ctrl-C stops it"
wait
