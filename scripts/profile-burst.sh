#!/usr/bin/env bash
# Flame graph of one purchase burst, and nothing else: a release stampede
# runs as its own process on a fresh database, the flash-sale tool signs its
# buyers up (argon2, which would otherwise fill the profile), and perf
# attaches to the server only once the product is listed, for the opening
# and the burst.
#
#   scripts/profile-burst.sh [mariadb|sqlite] [extra flash-sale flags...]
#
# Writes $OUT/burst-<store>.svg (default OUT=docs/flame) and the folded
# stacks beside the run in target/profile/. Needs perf (Debian: linux-perf)
# and inferno (`cargo install inferno`); MariaDB must be running for the
# mariadb form (`scripts/test.sh --services-only`). NO_BUILD=1 uses the
# binaries already in target/release.
set -euo pipefail
cd "$(dirname "$0")/.."

store=${1:-mariadb}
shift || true
out=${OUT:-docs/flame}
work=target/profile
port=${PORT:-18088}
mkdir -p "$out" "$work"

for tool in perf inferno-collapse-perf inferno-flamegraph; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

[ -n "${NO_BUILD:-}" ] || cargo build --release --bin stampede --example flash-sale
. scripts/lib/release-server.sh
start_release_server "$store" "$port" "$work"

lead_ms=4000
target/release/examples/flash-sale --target "$base" \
  --lead-ms "$lead_ms" --out "$work/run" "$@" >"$work/tool.out" 2>"$work/tool.err" &
tool=$!
# The product is listed: record from here to past the burst.
until grep -q "opening in" "$work/tool.err"; do
  kill -0 "$tool" 2>/dev/null || { cat "$work/tool.err" >&2; exit 1; }
  sleep 0.1
done
perf record -F 499 --call-graph dwarf,16384 -p "$server" -o "$work/perf.data" \
  -- sleep $((lead_ms / 1000 + 3)) 2>"$work/perf.err"
wait "$tool"
cat "$work/tool.out"

perf script -i "$work/perf.data" 2>/dev/null | inferno-collapse-perf >"$work/burst-$store.folded"
inferno-flamegraph --minwidth 1 --title "stampede: one burst ($store), server only" \
  <"$work/burst-$store.folded" >"$out/burst-$store.svg"
echo "flame graph: $out/burst-$store.svg (folded stacks: $work/burst-$store.folded)"
