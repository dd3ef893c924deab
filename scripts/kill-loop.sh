#!/usr/bin/env bash
# scripts/kill-loop.sh: the long kill loop, outside the test suite.
#
# Usage:
#   scripts/kill-loop.sh                    # 50 SIGKILLs of stampede, then 5 of MariaDB
#   KILLS=200 MARIADB_KILLS=10 scripts/kill-loop.sh
#   scripts/kill-loop.sh --seed 42          # extra args go to both loops
#
# Builds the release binary and load tool, then runs the flash-sale tool's
# kill loop: each drop on the real binary (a separate process, on a fresh
# MariaDB database of the shared server) is cut by a SIGKILL at a random
# moment of the burst and restarted; then a loop whose private MariaDB (a
# temp dir on a free port; the shared server is never touched) is killed
# instead. Every buyer retries with the same Idempotency-Key until a final
# answer; after each drop the books are checked. Exits non-zero when one
# drop fails. Results go to $OUT (kill-loop-*.json, .md, .server.log).
#
# Environment: KILLS (50), MARIADB_KILLS (5), PURCHASES (2000), STOCK (200),
# BUYERS (50), CONNECTIONS (200), STAMPEDE_TEST_MYSQL_URL
# (mysql://root@127.0.0.1:3306/test), OUT (target/kill-loop).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

KILLS=${KILLS:-50}
MARIADB_KILLS=${MARIADB_KILLS:-5}
OUT=${OUT:-target/kill-loop}
MYSQL_URL=${STAMPEDE_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}
DROP=(--purchases "${PURCHASES:-2000}" --stock "${STOCK:-200}" --buyers "${BUYERS:-50}"
  --connections "${CONNECTIONS:-200}" --lead-ms 1000)

scripts/test.sh --services-only
cargo build --release --example flash-sale --bin stampede
tool=(cargo run --release --quiet --example flash-sale --)

"${tool[@]}" --kill-loop "$KILLS" --kill stampede "${DROP[@]}" \
  --mysql-url "$MYSQL_URL" --out "$OUT" "$@"
"${tool[@]}" --kill-loop "$MARIADB_KILLS" --kill mariadb --down-ms 2000 "${DROP[@]}" \
  --out "$OUT" "$@"
