#!/usr/bin/env bash
# Where each drop's CPU went: a release stampede runs as its own process on a
# fresh database, the flash-sale tool fires its bursts at it, and
# scripts/burst-cpu.py splits the CPU of the server (by thread), the tool and
# the database over each drop's drain.
#
#   scripts/burst-cpu.sh [mariadb|sqlite] [flash-sale flags, e.g. --bursts 10000,100000]
#
# Writes bursts.*, cpu.json and the printed table under $OUT
# (default target/profile/cpu-<store>). NO_BUILD=1 uses target/release.
set -euo pipefail
cd "$(dirname "$0")/.."

store=${1:-mariadb}
shift || true
work=target/profile
out=${OUT:-$work/cpu-$store}
port=${PORT:-18089}
mkdir -p "$work" "$out"

[ -n "${NO_BUILD:-}" ] || cargo build --release --bin stampede --example flash-sale
. scripts/lib/release-server.sh
start_release_server "$store" "$port" "$work"

db_pid=()
if [ "$store" = mariadb ]; then
  db_pid=(--db-pid "$(pgrep -xo mariadbd || pgrep -xo mysqld)" --mysql-status)
fi
python3 scripts/burst-cpu.py --server-pid "$server" "${db_pid[@]}" --out "$out" -- \
  target/release/examples/flash-sale --target "$base" --out "$out" "$@" | tee "$out/cpu.txt"
