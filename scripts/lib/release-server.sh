# Sourced by the profiling scripts: a release stampede as its own process on
# a fresh database. Call `start_release_server <mariadb|sqlite> <port> <work dir>`;
# it sets $server (the pid) and $base (the URL), and stops the server on exit.
# The rate limits and e-mail verification are off: the load tool's buyers sign
# up by the hundred from one address.

start_release_server() {
  local store=$1 port=$2 work=$3 database_url
  case "$store" in
    mariadb)
      mysql -h127.0.0.1 -uroot -e \
        "DROP DATABASE IF EXISTS stampede_profile; CREATE DATABASE stampede_profile"
      database_url=mysql://root@127.0.0.1:3306/stampede_profile ;;
    sqlite)
      rm -f "$work"/profile.db*
      database_url="sqlite://$work/profile.db" ;;
    *) echo "store must be mariadb or sqlite" >&2; exit 2 ;;
  esac
  secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
  env DATABASE_URL="$database_url" STAMPEDE_BIND="127.0.0.1:$port" \
    STAMPEDE_JWT_SECRET="$(secret)" STAMPEDE_REFRESH_TOKEN_SECRET="$(secret)" \
    STAMPEDE_RATE_LIMIT_ENABLED=false STAMPEDE_REQUIRE_VERIFIED_EMAIL=false \
    STAMPEDE_MAIL_DIR="$work/mail" RUST_LOG=warn \
    target/release/stampede >"$work/server.log" 2>&1 &
  server=$!
  base="http://127.0.0.1:$port"
  trap 'kill "$server" 2>/dev/null || true' EXIT
  for _ in $(seq 100); do
    curl -fs "$base/health/ready" >/dev/null && return 0
    sleep 0.2
  done
  echo "the server did not get ready; see $work/server.log" >&2
  exit 1
}
