# Sourced by scripts/cluster.sh and scripts/measure-cluster.sh.
# `start_nodes <n> <base port> <log dir>` starts n release nodes in cluster
# mode, node i as `n$i` on 127.0.0.1:$((base + i)), one after the other (the
# first migrates the schema and makes the admin), each with the caller's
# environment: DATABASE_URL, STAMPEDE_NATS_URL, one pair of token secrets
# shared by all (a token from one node must work on every node), and any
# other STAMPEDE_* setting. Sets $pids and $bases (arrays).

start_nodes() {
  local n=$1 base_port=$2 logs=$3 i port
  pids=()
  bases=()
  mkdir -p "$logs"
  for i in $(seq 1 "$n"); do
    port=$((base_port + i))
    STAMPEDE_NODE_ID="n$i" STAMPEDE_BIND="127.0.0.1:$port" \
      target/release/stampede >"$logs/n$i.log" 2>&1 &
    pids+=($!)
    bases+=("http://127.0.0.1:$port")
    wait_ready "$port" "${pids[-1]}" "$logs/n$i.log"
    echo "node n$i ready on http://127.0.0.1:$port" >&2
  done
}

# `start_single <port> <log dir>`: one release stampede in single mode (it
# claims the whole database), with the caller's environment. Sets $pids and
# $bases like start_nodes.
start_single() {
  local port=$1 logs=$2
  mkdir -p "$logs"
  STAMPEDE_BIND="127.0.0.1:$port" target/release/stampede >"$logs/single.log" 2>&1 &
  pids=($!)
  bases=("http://127.0.0.1:$port")
  wait_ready "$port" "${pids[0]}" "$logs/single.log"
}

# `wait_ready <port> <pid> <log>`: until /health/ready answers 200 (30 s).
wait_ready() {
  local port=$1 pid=$2 log=$3
  for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "the server on port $port exited; see $log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "the server on port $port did not get ready; see $log" >&2
  return 1
}

# `stop_nodes`: SIGTERM to every node of $pids (each hands its shards over
# before it exits), then waits for them.
stop_nodes() {
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}

# `secret`: 32 random bytes as hex.
secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# `fresh_database <mysql url>`: drops and creates the URL's database.
fresh_database() {
  local url=$1 db server host port
  db=${url##*/}
  server=${url%/*}
  host=${server#*@}
  port=${host##*:}
  host=${host%:*}
  mysql -uroot -h"$host" -P"$port" -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
}
