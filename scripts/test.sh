#!/usr/bin/env bash
# scripts/test.sh: the one command to check stampede on a fresh machine.
#
# Usage:
#   scripts/test.sh                  # services + fmt + clippy + all tests
#   scripts/test.sh inventory        # extra args are forwarded to `cargo test`
#   scripts/test.sh -- --nocapture   #   (including test-binary args after --)
#   scripts/test.sh --services-only  # only make sure MariaDB, Redis and NATS are up
#
# After the tests it fuzzes the real binary with schemathesis (pinned, in a
# venv under the cargo target dir) against its own /openapi.json.
#
# Environment:
#   STAMPEDE_TEST_MYSQL_URL  default mysql://root@127.0.0.1:3306/test
#   STAMPEDE_TEST_REDIS_URL  default redis://127.0.0.1:6379
#   STAMPEDE_TEST_NATS_URL   default nats://127.0.0.1:4222 (JetStream on)
#   STAMPEDE_SCHEMATHESIS_MAX_EXAMPLES, STAMPEDE_SCHEMATHESIS_SEED  (30, 1)
#   STAMPEDE_TEST_CHROMIUM   default /usr/bin/chromium (the control-room
#                            browser test; Debian's chromium is installed
#                            when that default is missing)
#   STAMPEDE_TEST_PYTHON     a python3 with aiosmtpd and moto[server], for the
#                            SMTP and S3 servers the mail and media tests
#                            start (default: a pinned venv under the cargo
#                            target dir, made when missing)
# When a URL points at a non-local host, this script does not install or start
# that service; it is assumed to be managed elsewhere.
#
# Needs only the Rust toolchain; on Debian it installs MariaDB, Redis, NATS, Chromium and,
# when missing, python3-venv and curl with apt-get (through sudo when not run
# as root). Safe to run repeatedly.
set -euo pipefail

# Daemons and service helpers live in sbin, which a normal user's PATH may lack.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export DEBIAN_FRONTEND=noninteractive

DEFAULT_MYSQL_URL='mysql://root@127.0.0.1:3306/test'
DEFAULT_REDIS_URL='redis://127.0.0.1:6379'
DEFAULT_NATS_URL='nats://127.0.0.1:4222'
MARIADB_WAIT_SECS=60
REDIS_WAIT_SECS=30

STEP_LOG=""     # temp file holding the output of the last quiet command
APT_UPDATED=0

# ----------------------------------------------------------------- helpers --

header() { printf '==> %s\n' "$*"; }
note()   { printf '    %s\n' "$*"; }
warn()   { printf 'warning: %s\n' "$*" >&2; }
die()    { printf 'error: %s\n' "$*" >&2; exit 1; }

cleanup() { [[ -n "$STEP_LOG" ]] && rm -f "$STEP_LOG"; return 0; }

# Run a command with root privileges: directly when root, else via sudo.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    # Never wait for a password prompt when nobody can answer it (CI).
    if [[ -t 0 ]]; then sudo "$@"; else sudo -n "$@"; fi
  else
    warn "need root for: $*  (not root and sudo is not installed)"
    return 1
  fi
}

# Run a command quietly; show its output only if it fails.
quiet() {
  if [[ -z "$STEP_LOG" ]]; then
    STEP_LOG=$(mktemp "${TMPDIR:-/tmp}/stampede-test.XXXXXX")
  fi
  if "$@" >"$STEP_LOG" 2>&1; then
    return 0
  else
    local rc=$?
    warn "command failed (exit $rc): $*"
    tail -n 40 "$STEP_LOG" >&2 || true
    return "$rc"
  fi
}

# Poll `cmd...` once a second for up to $1 seconds.
wait_until() {
  local secs=$1
  shift
  local deadline=$((SECONDS + secs))
  while ((SECONDS < deadline)); do
    "$@" && return 0
    sleep 1
  done
  "$@"
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 \
    || die "apt-get not found; install these packages by hand: $*"
  if ((APT_UPDATED == 0)); then
    note "apt-get update"
    quiet as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get -o DPkg::Lock::Timeout=300 update \
      || die "apt-get update failed"
    APT_UPDATED=1
  fi
  note "apt-get install -y $*"
  quiet as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "$@" \
    || die "apt-get install $* failed"
}

# Succeeds if something accepts TCP connections on host $1, port $2.
tcp_open() {
  local host=${1#[}
  host=${host%]}
  # shellcheck disable=SC2016 # $0/$1 expand in the child shell
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$2" 2>/dev/null
}

# ------------------------------------------------------------ URL parsing --

# Percent-decode $1 (userinfo in URLs, e.g. p%40ss -> p@ss).
urldecode() { printf '%b' "${1//%/\\x}"; }

# parse_url URL -> sets URL_USER URL_PASS URL_HOST URL_PORT URL_PATH
parse_url() {
  local rest=${1#*://} hostport
  rest=${rest%%[?#]*}
  URL_USER="" URL_PASS="" URL_PATH=""
  if [[ $rest == */* ]]; then
    URL_PATH=${rest#*/}
    rest=${rest%%/*}
  fi
  if [[ $rest == *@* ]]; then
    local auth=${rest%@*}
    hostport=${rest##*@}
    if [[ $auth == *:* ]]; then
      URL_USER=$(urldecode "${auth%%:*}")
      URL_PASS=$(urldecode "${auth#*:}")
    else
      URL_USER=$(urldecode "$auth")
    fi
  else
    hostport=$rest
  fi
  if [[ $hostport == \[* ]]; then            # [v6-address]:port
    URL_HOST=${hostport%%]*}
    URL_HOST=${URL_HOST#[}
    URL_PORT=${hostport#*]}
    URL_PORT=${URL_PORT#:}
  elif [[ $hostport == *:* ]]; then
    URL_HOST=${hostport%%:*}
    URL_PORT=${hostport#*:}
  else
    URL_HOST=$hostport
    URL_PORT=""
  fi
}

is_local_host() {
  case "$1" in
    "" | localhost | 127.* | ::1 | 0:0:0:0:0:0:0:1) return 0 ;;
    *) return 1 ;;
  esac
}

# Hide the password when echoing a URL.
redact_url() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"; }

# ---------------------------------------------------------------- MariaDB --

MYSQL_CLIENT="" MYSQL_ADMIN="" MARIADBD=""
MYSQL_USER="" MYSQL_PASS="" MYSQL_HOST="" MYSQL_PORT="" MYSQL_DB=""

find_mariadb_binaries() {
  MARIADBD=""
  local b
  for b in /usr/sbin/mariadbd /usr/sbin/mysqld /usr/libexec/mariadbd; do
    if [[ -x $b ]]; then MARIADBD=$b; break; fi
  done
  MYSQL_CLIENT=$(command -v mariadb || command -v mysql || true)
  MYSQL_ADMIN=$(command -v mariadb-admin || command -v mysqladmin || true)
}

# Is the server answering on host:port? (mariadb-admin ping exits 0 even on
# "access denied", which is what we want here.)
mariadb_alive() {
  if [[ -n $MYSQL_ADMIN ]]; then
    "$MYSQL_ADMIN" --protocol=TCP -h "$MYSQL_HOST" -P "$MYSQL_PORT" -uroot \
      --connect-timeout=2 ping >/dev/null 2>&1
  else
    tcp_open "$MYSQL_HOST" "$MYSQL_PORT"
  fi
}

# mariadb client over TCP with the credentials from the URL.
mysql_tcp() {
  local args=(--protocol=TCP -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER"
    --connect-timeout=5 --batch --skip-column-names)
  [[ -n $MYSQL_PASS ]] && args+=("--password=$MYSQL_PASS")
  "$MYSQL_CLIENT" "${args[@]}" "$@"
}

mariadbd_running() { start-stop-daemon --status --exec "$MARIADBD" >/dev/null 2>&1; }

# Up, or the daemon we just launched is still starting.
mariadb_alive_or_dead() { mariadb_alive || ! mariadbd_running; }

start_mariadb() {
  as_root install -d -o mysql -g mysql -m 0755 /run/mysqld \
    || die "could not create /run/mysqld"

  # A fresh or half-installed package may have no system tables yet.
  local datadir
  datadir=$(as_root "$MARIADBD" --user=mysql --verbose --help 2>/dev/null \
    | awk '$1 == "datadir" { print $2 }')
  datadir=${datadir:-/var/lib/mysql/}
  if ! as_root test -d "${datadir%/}/mysql"; then
    local installdb
    installdb=$(command -v mariadb-install-db || command -v mysql_install_db || true)
    if [[ -n $installdb ]]; then
      note "initialising data directory $datadir"
      quiet as_root "$installdb" --user=mysql --datadir="$datadir" \
        || die "could not initialise $datadir"
    fi
  fi

  note "starting $MARIADBD"
  local ssd=(start-stop-daemon --start --oknodo --background)
  if start-stop-daemon --help 2>&1 | grep -q -- '--output'; then
    as_root install -d -o mysql -g adm -m 2750 /var/log/mysql 2>/dev/null || true
    ssd+=(--output /var/log/mysql/ci-mariadbd.log)
  fi
  ssd+=(--exec "$MARIADBD" -- --user=mysql --port="$MYSQL_PORT")

  if quiet as_root "${ssd[@]}"; then
    sleep 2 # let the forked child exec before checking whether it runs
    # Stop waiting early if the daemon died instead of coming up.
    wait_until "$MARIADB_WAIT_SECS" mariadb_alive_or_dead || true
    mariadb_alive && return 0
    warn "mariadbd did not come up via start-stop-daemon; see /var/log/mysql/"
  fi

  note "falling back to: service mariadb start"
  quiet as_root service mariadb start || quiet as_root service mysql start || true
  wait_until "$MARIADB_WAIT_SECS" mariadb_alive \
    || die "MariaDB is not answering on $MYSQL_HOST:$MYSQL_PORT after ${MARIADB_WAIT_SECS}s (logs: /var/log/mysql/)"
}

# A fresh Debian install only lets root in through the unix socket; allow
# password-less TCP logins for root, keeping socket auth working as well.
fix_root_login() {
  note "allowing root@127.0.0.1 without password (via the unix socket)"
  local sql="
    ALTER USER 'root'@'localhost'
      IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;
    CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
    ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '';
    GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
    CREATE USER IF NOT EXISTS 'root'@'::1' IDENTIFIED BY '';
    ALTER USER 'root'@'::1' IDENTIFIED BY '';
    GRANT ALL ON *.* TO 'root'@'::1' WITH GRANT OPTION;
    FLUSH PRIVILEGES;"
  quiet as_root "$MYSQL_CLIENT" -uroot -e "$sql"
}

ensure_mariadb() {
  parse_url "$STAMPEDE_TEST_MYSQL_URL"
  MYSQL_USER=${URL_USER:-root}
  MYSQL_PASS=$URL_PASS
  MYSQL_HOST=${URL_HOST:-127.0.0.1}
  MYSQL_PORT=${URL_PORT:-3306}
  MYSQL_DB=${URL_PATH:-test}

  header "MariaDB ($(redact_url "$STAMPEDE_TEST_MYSQL_URL"))"
  if ! is_local_host "$MYSQL_HOST"; then
    note "non-local host $MYSQL_HOST: not installing or starting MariaDB"
    return 0
  fi

  local grace=0
  find_mariadb_binaries
  if [[ -z $MARIADBD || -z $MYSQL_CLIENT ]]; then
    apt_install mariadb-server mariadb-client
    find_mariadb_binaries
    [[ -n $MARIADBD ]] || die "mariadb-server installed but no mariadbd/mysqld binary found"
    [[ -n $MYSQL_CLIENT ]] || die "no mariadb/mysql client binary found"
    grace=5 # the package's postinst may have just started it
  fi

  if ! wait_until "$grace" mariadb_alive; then
    start_mariadb
  fi

  if ! mysql_tcp -e 'SELECT 1' >/dev/null 2>&1; then
    if [[ $MYSQL_USER == root && -z $MYSQL_PASS ]]; then
      fix_root_login || die "could not log in as root over the unix socket to fix root's TCP login"
      mysql_tcp -e 'SELECT 1' >/dev/null 2>&1 \
        || die "still cannot log in as root@$MYSQL_HOST:$MYSQL_PORT with an empty password"
    else
      mysql_tcp -e 'SELECT 1' || true
      die "cannot log in to MariaDB as '$MYSQL_USER'; create that user or fix STAMPEDE_TEST_MYSQL_URL"
    fi
  fi

  local db_ident=${MYSQL_DB//\`/\`\`}
  quiet mysql_tcp -e "CREATE DATABASE IF NOT EXISTS \`$db_ident\`" \
    || die "could not create database $MYSQL_DB"
  note "ok: $MYSQL_HOST:$MYSQL_PORT, database '$MYSQL_DB' ready"
}

# ------------------------------------------------------------------ Redis --

REDIS_HOST="" REDIS_PORT=""

redis_ping() {
  if command -v redis-cli >/dev/null 2>&1; then
    [[ $(timeout 5 redis-cli -u "$STAMPEDE_TEST_REDIS_URL" ping 2>/dev/null) == PONG ]]
  else
    # No client: speak the protocol over bash's /dev/tcp.
    local host=${REDIS_HOST#[}
    host=${host%]}
    # shellcheck disable=SC2016 # $0/$1 expand in the child shell
    timeout 3 bash -c '
      exec 3<>"/dev/tcp/$0/$1" || exit 1
      printf "PING\r\n" >&3
      IFS= read -r line <&3
      [[ $line == "+PONG"* ]]' "$host" "$REDIS_PORT" 2>/dev/null
  fi
}

start_redis() {
  local common=(--daemonize yes --port "$REDIS_PORT" --save "" --appendonly no)

  note "starting redis-server on port $REDIS_PORT"
  if as_root install -d /var/lib/redis /var/log/redis 2>/dev/null \
    && quiet as_root redis-server "${common[@]}" --bind 127.0.0.1 -::1 \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log; then
    wait_until 15 redis_ping && return 0
  fi

  # Older Redis (no optional "-::1" bind), no root, or unwritable dirs.
  note "retrying with --dir ${TMPDIR:-/tmp}"
  quiet redis-server "${common[@]}" --bind 127.0.0.1 \
    --dir "${TMPDIR:-/tmp}" --logfile "" || true
  wait_until "$REDIS_WAIT_SECS" redis_ping \
    || die "Redis is not answering PING on $REDIS_HOST:$REDIS_PORT (log: /var/log/redis/ci.log)"
}

ensure_redis() {
  parse_url "$STAMPEDE_TEST_REDIS_URL"
  REDIS_HOST=${URL_HOST:-127.0.0.1}
  REDIS_PORT=${URL_PORT:-6379}

  header "Redis ($(redact_url "$STAMPEDE_TEST_REDIS_URL"))"
  if ! is_local_host "$REDIS_HOST"; then
    note "non-local host $REDIS_HOST: not installing or starting Redis"
    return 0
  fi

  local grace=0
  if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server
    command -v redis-server >/dev/null 2>&1 || die "redis-server still not found after install"
    grace=5 # the package's postinst may have just started it
  fi

  if ! wait_until "$grace" redis_ping; then
    start_redis
  fi
  note "ok: $REDIS_HOST:$REDIS_PORT answers PONG"
}

# ------------------------------------------------------------------- NATS --

NATS_HOST="" NATS_PORT=""

# The server's INFO line, or nothing when nobody answers.
nats_info() {
  local host=${NATS_HOST#[}
  host=${host%]}
  # shellcheck disable=SC2016 # $0/$1 expand in the child shell
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    IFS= read -r line <&3
    printf "%s" "$line"' "$host" "$NATS_PORT" 2>/dev/null
}

nats_alive() { [[ $(nats_info) == INFO* ]]; }
nats_has_jetstream() { [[ $(nats_info) == *'"jetstream":true'* ]]; }

start_nats() {
  local dir=/var/lib/nats-server log=/var/log/nats-server.log
  if ! as_root install -d "$dir" 2>/dev/null; then
    dir="${TMPDIR:-/tmp}/nats-server" log="${TMPDIR:-/tmp}/nats-server.log"
    mkdir -p "$dir"
  fi
  note "starting nats-server with JetStream on port $NATS_PORT (store $dir)"
  # Through setsid, so it outlives this script like the other daemons.
  as_root setsid nats-server -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$dir" -l "$log" \
    </dev/null >/dev/null 2>&1 &
  wait_until 15 nats_alive || die "nats-server is not answering on $NATS_HOST:$NATS_PORT (log: $log)"
}

ensure_nats() {
  parse_url "$STAMPEDE_TEST_NATS_URL"
  NATS_HOST=${URL_HOST:-127.0.0.1}
  NATS_PORT=${URL_PORT:-4222}

  header "NATS with JetStream ($(redact_url "$STAMPEDE_TEST_NATS_URL"))"
  if ! is_local_host "$NATS_HOST"; then
    note "non-local host $NATS_HOST: not installing or starting NATS"
    return 0
  fi
  # The event tests also start servers of their own (tests/common/nats.rs).
  if ! command -v nats-server >/dev/null 2>&1; then
    apt_install nats-server
    command -v nats-server >/dev/null 2>&1 || die "nats-server still not found after install"
    # Debian's package may start one without JetStream: ours needs it.
    sleep 2
  fi
  if nats_alive && ! nats_has_jetstream; then
    die "the NATS server on $NATS_HOST:$NATS_PORT runs without JetStream; restart it with -js"
  fi
  nats_alive || start_nats
  nats_has_jetstream || die "NATS on $NATS_HOST:$NATS_PORT has no JetStream"
  note "ok: $NATS_HOST:$NATS_PORT answers, JetStream on"
}

# ------------------------------------------------------------------- Rust --

ensure_rust_components() {
  local missing=()
  cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
  cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
  ((${#missing[@]} == 0)) && return 0

  command -v rustup >/dev/null 2>&1 \
    || die "cargo ${missing[*]} not available and rustup is not installed to add it"
  header "rustup component add ${missing[*]}"
  rustup component add "${missing[@]}"
}

# ------------------------------------------------------------ extra checks --

# Schemathesis fuzzes the real binary through its own /openapi.json: no 5xx,
# and every answer (status, content type, body) must match the document.
SCHEMATHESIS_VERSION=4.32.5
# Test cases per operation and phase; the three runs take about a minute.
SCHEMATHESIS_MAX_EXAMPLES=${STAMPEDE_SCHEMATHESIS_MAX_EXAMPLES:-30}
# Fixed by default so a failure reproduces; set another to explore further.
SCHEMATHESIS_SEED=${STAMPEDE_SCHEMATHESIS_SEED:-1}
SERVER_PID=""
SERVER_DIR=""

stop_server() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
  if [[ -n $SERVER_DIR ]]; then
    rm -rf "$SERVER_DIR"
    SERVER_DIR=""
  fi
  return 0
}

# Sets ST to the schemathesis CLI (absolute path) of a pinned venv under
# the cargo target dir.
ensure_schemathesis() {
  local venv
  mkdir -p "$(cargo_target_dir)"
  venv="$(cd "$(cargo_target_dir)" && pwd)/schemathesis-venv"
  ST="$venv/bin/schemathesis"
  if [[ -x $ST ]] && [[ $("$ST" --version 2>/dev/null) == *" $SCHEMATHESIS_VERSION" ]]; then
    return 0
  fi
  header "schemathesis $SCHEMATHESIS_VERSION (venv $venv)"
  command -v python3 >/dev/null 2>&1 || apt_install python3
  rm -rf "$venv"
  # Debian ships venv and pip apart from python3; a failed attempt leaves a
  # half-made venv behind.
  if ! python3 -m venv "$venv" >/dev/null 2>&1 || [[ ! -x $venv/bin/pip ]]; then
    rm -rf "$venv"
    apt_install python3-venv python3-pip
    quiet python3 -m venv "$venv" || die "python3 -m venv $venv failed"
  fi
  quiet "$venv/bin/pip" install --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" \
    || die "pip install schemathesis==$SCHEMATHESIS_VERSION failed"
}

cargo_target_dir() { printf '%s' "${CARGO_TARGET_DIR:-target}"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# 32 random bytes, hex-encoded: a token secret the server accepts outside
# development mode (at least 32 bytes).
random_secret() {
  python3 -c 'import secrets; print(secrets.token_hex(32))'
}

server_ready() { curl -fs -o /dev/null "$BASE_URL/health/ready"; }

# Ready, or the server we just started has died (stop waiting then).
server_ready_or_dead() { server_ready || ! kill -0 "$SERVER_PID" 2>/dev/null; }

# Starts target/debug/stampede on a free port with a fresh SQLite file;
# sets BASE_URL. Rate limits are raised far above what the fuzzer sends, so
# answers are judged on their merits (429 stays documented where it applies).
start_server() {
  SERVER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/stampede-schemathesis.XXXXXX")
  local port
  port=$(free_port)
  BASE_URL="http://127.0.0.1:$port"
  ADMIN_EMAIL=admin@schemathesis.test
  ADMIN_PASSWORD=admin-pass-1234
  env -u REDIS_URL \
    STAMPEDE_CONFIG="$SERVER_DIR/none.toml" \
    STAMPEDE_BIND="127.0.0.1:$port" \
    DATABASE_URL="sqlite://$SERVER_DIR/stampede.db" \
    STAMPEDE_JWT_SECRET="$(random_secret)" \
    STAMPEDE_REFRESH_TOKEN_SECRET="$(random_secret)" \
    STAMPEDE_ACCESS_TOKEN_TTL_SECS=3600 \
    STAMPEDE_ADMIN_EMAIL="$ADMIN_EMAIL" \
    STAMPEDE_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    STAMPEDE_HTTP_WORKERS=2 \
    STAMPEDE_MEDIA_DIR="$SERVER_DIR/media" \
    STAMPEDE_RATE_LIMIT_AUTH_PER_SECOND=100000 \
    STAMPEDE_RATE_LIMIT_AUTH_BURST=100000 \
    STAMPEDE_RATE_LIMIT_PURCHASE_PER_SECOND=100000 \
    STAMPEDE_RATE_LIMIT_PURCHASE_BURST=100000 \
    STAMPEDE_RATE_LIMIT_PUBLIC_PER_SECOND=100000 \
    STAMPEDE_RATE_LIMIT_PUBLIC_BURST=100000 \
    STAMPEDE_RATE_LIMIT_ACCOUNT_PER_MINUTE=100000 \
    STAMPEDE_RATE_LIMIT_ACCOUNT_BURST=100000 \
    STAMPEDE_REQUIRE_VERIFIED_EMAIL=false \
    STAMPEDE_MAIL_DIR="$SERVER_DIR/mail" \
    RUST_LOG="${RUST_LOG:-warn}" \
    "$(cargo_target_dir)/debug/stampede" >"$SERVER_DIR/server.log" 2>&1 &
  SERVER_PID=$!
  wait_until 60 server_ready_or_dead || true
  if ! server_ready; then
    tail -n 40 "$SERVER_DIR/server.log" >&2 || true
    die "stampede did not become ready on $BASE_URL"
  fi
  note "stampede (pid $SERVER_PID) ready on $BASE_URL"
}

# POSTs JSON $2 to $BASE_URL/api/v1$1 and prints the answer; fails on non-2xx.
api_post() {
  curl -fsS -H 'Content-Type: application/json' -d "$2" "$BASE_URL/api/v1$1"
}

# Prints a fresh access token for a new account of role $1 (or the admin).
access_token() {
  local email password=fuzz-pass-1234
  if [[ $1 == admin ]]; then
    email=$ADMIN_EMAIL password=$ADMIN_PASSWORD
  else
    email="$1-$RANDOM$RANDOM@schemathesis.test"
    api_post /auth/signup \
      "{\"email\":\"$email\",\"password\":\"$password\",\"name\":\"Fuzz $1\",\"role\":\"$1\"}" \
      >/dev/null || return 1
  fi
  api_post /auth/login "{\"email\":\"$email\",\"password\":\"$password\"}" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# One schemathesis run over the whole API as role $1; extra args follow.
run_schemathesis() {
  local role=$1 token
  shift
  token=$(access_token "$role") || die "could not get a $role token from $BASE_URL"
  header "schemathesis as $role ($BASE_URL/openapi.json)"
  # Every check but positive_data_acceptance, which wants 2xx for any
  # schema-valid body: rules such as password strength, distinct sku_codes
  # or an ordered sale window are refused with 400 but are not expressible
  # in JSON Schema. The timeout only guards against a hung run (~20 s each).
  # It runs in target/schemathesis, where it keeps its .schemathesis cache
  # (`st replay <id>` of a failure works from there). One worker: hypothesis
  # parses Python sources to describe its lambdas, and CPython before 3.12.2
  # corrupts the ast module's recursion counter when two threads parse at
  # once ("AST constructor recursion depth mismatch", cpython gh-106905),
  # which failed a run here on Python 3.11.7. The control room's live feed
  # is left out: it is an endless event stream by design (tests/pages.rs
  # covers it), and would only time out.
  local work
  work="$(cargo_target_dir)/schemathesis"
  mkdir -p "$work"
  (cd "$work" && timeout 600 "$ST" run "$BASE_URL/openapi.json" \
    --checks all \
    --exclude-checks positive_data_acceptance \
    --max-examples "$SCHEMATHESIS_MAX_EXAMPLES" \
    --seed "$SCHEMATHESIS_SEED" \
    --workers 1 \
    --request-timeout 20 \
    --generation-database none \
    --no-color \
    -H "Authorization: Bearer $token" \
    --exclude-path /api/v1/admin/live \
    "$@")
}

run_extra_checks() {
  command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
  ensure_schemathesis
  header "cargo build --bin stampede"
  cargo build --bin stampede
  trap 'stop_server; cleanup' EXIT
  start_server
  local started=$SECONDS
  # Each role its own fresh account. The two calls that end the caller's
  # own access (withdrawing, logging out everywhere) would turn every call
  # after them into a 401 and leave the rest of a run unexercised: they
  # get a last run of their own.
  local ends_access=(--exclude-name "POST /api/v1/auth/logout-all"
    --exclude-name "DELETE /api/v1/users/me")
  run_schemathesis customer "${ends_access[@]}"
  run_schemathesis seller "${ends_access[@]}"
  run_schemathesis admin "${ends_access[@]}"
  run_schemathesis customer --include-name "POST /api/v1/auth/logout-all" \
    --include-name "DELETE /api/v1/users/me"
  note "schemathesis took $((SECONDS - started)) s"
  stop_server
  run_flash_sale_smoke
  run_flash_sale_scale_smoke
  run_kill_loop_smoke
  run_community_feed_smoke
}

# A small drop through the load tool, every variant: proves the tool, the
# alternative stock ports and the read-back checks still work (it exits
# non-zero when a check fails). The figures of a debug build mean nothing.
run_flash_sale_smoke() {
  header "flash-sale smoke run (1,000 purchases, stock 100, every variant)"
  cargo run --quiet --example flash-sale -- \
    --purchases 1000 --stock 100 --buyers 20 --connections 100 --lead-ms 1500 \
    --variants stampede,stampede-sqlite,row-lock,redis-lua \
    --mysql-url "$STAMPEDE_TEST_MYSQL_URL" --redis-url "$STAMPEDE_TEST_REDIS_URL" \
    --out target/flash-sale-smoke
}

# The scale measurements of the load tool in short (the long form, bursts of
# 10,000 to 100,000 on both stores, is docs/flash-sale/scale/bursts.md): two
# bursts on one server, a drop over 100 SKUs at once, catalog reads beside
# each drop and the whoami ceiling before it. It proves the tool and the
# books at every size (exits non-zero when a check fails); the linear-drain
# tolerance is loose because a debug build's timings mean nothing.
run_flash_sale_scale_smoke() {
  header "flash-sale scale smoke (bursts of 2,000 and 4,000, 100 hot SKUs, reads, ceiling)"
  cargo run --quiet --example flash-sale -- \
    --variants stampede --bursts 2000,4000 --hot-skus 100 --browse-rate 100 --ceiling \
    --buyers 100 --connections 200 --lead-ms 2000 --linear-tolerance 3 \
    --mysql-url "$STAMPEDE_TEST_MYSQL_URL" --redis-url "$STAMPEDE_TEST_REDIS_URL" \
    --out target/flash-sale-scale-smoke
}

# A short kill loop (the long form is scripts/kill-loop.sh): the debug
# binary built above as a separate process on a fresh MariaDB database,
# SIGKILLed at a random moment of each of 3 small drops and restarted, then
# one drop whose private MariaDB is SIGKILLed and restarted. Buyers retry
# with the same key until a final answer; it exits non-zero when a drop
# loses an order, oversells, breaks a limit or leaves a buyer unanswered.
# The seed is random and printed, so a failure can be replayed (--seed).
run_kill_loop_smoke() {
  local drop=(--purchases 300 --stock 60 --buyers 20 --connections 50 --lead-ms 1000)
  header "kill loop (3 SIGKILLs of stampede, 1 of MariaDB; 300 purchases on stock 60)"
  cargo run --quiet --example flash-sale -- --kill-loop 3 --kill stampede "${drop[@]}" \
    --mysql-url "$STAMPEDE_TEST_MYSQL_URL" --out target/kill-loop-smoke
  cargo run --quiet --example flash-sale -- --kill-loop 1 --kill mariadb --down-ms 2000 \
    "${drop[@]}" --out target/kill-loop-smoke
}

# The feed load tool on a small seeded community (the long form, 10,000
# users and 100,000 posts at 1,000 reads/s, is in docs/community.md): proves
# the seed, the sign-ins and both feeds; it exits non-zero when a read
# failed or a following page came back empty.
run_community_feed_smoke() {
  local db="${STAMPEDE_TEST_MYSQL_URL%/*}/community_feed_smoke"
  header "community feed smoke (500 users, 5,000 posts, 20 follows each)"
  cargo run --quiet --example community-feed -- seed --database "$db" \
    --users 500 --posts 5000 --follows 20
  cargo run --quiet --example community-feed -- read --database "$db" \
    --rate 50 --warmup 1 --seconds 3 --readers 20 --check
}

# ------------------------------------------------------------------- main --

# ---------------------------------------------------------------- chromium --
# The control-room test (tests/control_room.rs) drives headless Chromium
# over the DevTools protocol; Debian's package, never a downloaded build.
ensure_chromium() {
  export STAMPEDE_TEST_CHROMIUM="${STAMPEDE_TEST_CHROMIUM:-/usr/bin/chromium}"
  if [[ -x "$STAMPEDE_TEST_CHROMIUM" ]]; then
    return 0
  fi
  [[ "$STAMPEDE_TEST_CHROMIUM" == /usr/bin/chromium ]] \
    || die "STAMPEDE_TEST_CHROMIUM=$STAMPEDE_TEST_CHROMIUM is not an executable"
  header "Chromium (for the control-room browser test)"
  apt_install chromium fonts-dejavu-core
  [[ -x "$STAMPEDE_TEST_CHROMIUM" ]] || die "chromium installed, but $STAMPEDE_TEST_CHROMIUM is missing"
}

# The tests' helper servers run on python, from a pinned venv: the mail
# tests' SMTP server (tests/support/smtp_sink.py on aiosmtpd) and the media
# tests' S3-compatible server (moto).
AIOSMTPD_VERSION=1.4.6
MOTO_VERSION=5.1.18
# Sets STAMPEDE_TEST_PYTHON to a python with both, making the venv when
# missing or out of date.
ensure_test_python() {
  local check="import aiosmtpd, moto, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION' or moto.__version__ != '$MOTO_VERSION')"
  if [[ -n ${STAMPEDE_TEST_PYTHON:-} ]]; then
    "$STAMPEDE_TEST_PYTHON" -c 'import aiosmtpd, moto.server' 2>/dev/null \
      || die "STAMPEDE_TEST_PYTHON=$STAMPEDE_TEST_PYTHON cannot import aiosmtpd and moto.server"
    return 0
  fi
  local venv
  mkdir -p "$(cargo_target_dir)"
  venv="$(cd "$(cargo_target_dir)" && pwd)/test-venv"
  export STAMPEDE_TEST_PYTHON="$venv/bin/python"
  if "$STAMPEDE_TEST_PYTHON" -c "$check" 2>/dev/null; then
    return 0
  fi
  header "aiosmtpd $AIOSMTPD_VERSION and moto $MOTO_VERSION (venv $venv, for the mail and S3 tests)"
  command -v python3 >/dev/null 2>&1 || apt_install python3
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1 || [[ ! -x $venv/bin/pip ]]; then
    rm -rf "$venv"
    apt_install python3-venv python3-pip
    quiet python3 -m venv "$venv" || die "python3 -m venv $venv failed"
  fi
  quiet "$venv/bin/pip" install --disable-pip-version-check \
    "aiosmtpd==$AIOSMTPD_VERSION" "moto[server]==$MOTO_VERSION" \
    || die "pip install aiosmtpd==$AIOSMTPD_VERSION moto[server]==$MOTO_VERSION failed"
}

usage() { sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

ensure_services() {
  export STAMPEDE_TEST_MYSQL_URL="${STAMPEDE_TEST_MYSQL_URL:-$DEFAULT_MYSQL_URL}"
  export STAMPEDE_TEST_REDIS_URL="${STAMPEDE_TEST_REDIS_URL:-$DEFAULT_REDIS_URL}"
  export STAMPEDE_TEST_NATS_URL="${STAMPEDE_TEST_NATS_URL:-$DEFAULT_NATS_URL}"
  ensure_mariadb
  ensure_redis
  ensure_nats
  ensure_chromium
  ensure_test_python
}

main() {
  trap cleanup EXIT
  cd "$(dirname "${BASH_SOURCE[0]}")/.."

  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    --services-only) ensure_services; echo "services ready"; return 0 ;;
  esac

  ensure_services
  ensure_rust_components

  header "cargo fmt --all --check"
  cargo fmt --all --check

  header "cargo clippy --all-targets -- -D warnings"
  cargo clippy --all-targets -- -D warnings

  header "cargo test --all-targets${*:+ $*}"
  cargo test --all-targets "$@"

  header "extra checks"
  run_extra_checks

  echo "all checks passed"
}

# Only run when executed, so the functions can be sourced for testing.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
