#!/usr/bin/env bash
# Start the Docker stack: Claude Code -> OTel Collector -> ccmonitor -> SQLite -> Grafana.
#
# Checks Docker >= 20.10 and Compose v2 (and says what is missing), creates ./data owned by you,
# writes .env (your uid/gid, a generated Grafana admin password unless GRAFANA_ADMIN_PASSWORD is
# set), builds, starts, waits until the services are healthy, then prints the URLs and the
# Grafana credentials. Safe to run again: .env values and ./data are kept.
#   ./setup.sh --postgres   the PostgreSQL variant (docker-compose.postgres.yml): also ./data/postgres
#                           and generated database passwords in .env; COMPOSE_FILE in .env remembers
#                           the choice, so later runs and plain `docker compose ...` use it too
#   ./setup.sh --sqlite     back to docker-compose.yml
# Environment: SETUP_TIMEOUT (seconds to wait for health, default 180).
set -euo pipefail
cd "$(dirname "$0")"

variant=""
for arg in "$@"; do
  case "$arg" in
    --postgres) variant=docker-compose.postgres.yml ;;
    --sqlite) variant=docker-compose.yml ;;
    *) printf 'usage: %s [--postgres | --sqlite]\n' "$0" >&2; exit 2 ;;
  esac
done

MIN_DOCKER=20.10
MIN_COMPOSE=2.0
timeout_s=${SETUP_TIMEOUT:-180}

say() { printf '%s\n' "$*"; }
# version_ge A B: is version A >= version B?
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

# ---- 1. what is missing
problems=()
if ! command -v docker >/dev/null 2>&1; then
  problems+=("Docker is not installed: install Docker Engine $MIN_DOCKER or newer (https://docs.docker.com/engine/install/)")
else
  client=$(docker --version 2>/dev/null | sed -nE 's/^Docker version ([0-9]+\.[0-9]+(\.[0-9]+)?).*/\1/p')
  if [ -z "$client" ] || ! version_ge "$client" "$MIN_DOCKER"; then
    problems+=("Docker ${client:-of unknown version} is too old: need $MIN_DOCKER or newer")
  fi
  compose=$(docker compose version --short 2>/dev/null | sed -E 's/^v//') || compose=""
  if [ -z "$compose" ]; then
    problems+=("Docker Compose v2 is missing (the 'docker compose' plugin; docker-compose v1 is not supported): install docker-compose-plugin (https://docs.docker.com/compose/install/linux/)")
  elif ! version_ge "$compose" "$MIN_COMPOSE"; then
    problems+=("Docker Compose $compose is too old: need $MIN_COMPOSE or newer")
  fi
  if [ ${#problems[@]} -eq 0 ]; then
    if ! server=$(docker version --format '{{.Server.Version}}' 2>/dev/null); then
      problems+=("cannot reach the Docker daemon: is it running, and may $(id -un) use it (docker group)?")
    elif ! version_ge "$server" "$MIN_DOCKER"; then
      problems+=("Docker Engine $server is too old: need $MIN_DOCKER or newer")
    fi
  fi
fi
if [ ${#problems[@]} -gt 0 ]; then
  say "setup.sh cannot start the stack:" >&2
  for p in "${problems[@]}"; do say "  - $p" >&2; done
  exit 1
fi
say "Docker $client (engine $server), Compose $compose"

# ---- 2. ./data and .env
touch .env
chmod 600 .env
env_get() { sed -n "s/^$1=//p" .env | tail -n1; }
env_default() { [ -n "$(env_get "$1")" ] || printf '%s=%s\n' "$1" "$2" >> .env; }
generated() { LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 24 || true; }
if [ -n "$variant" ]; then   # the choice is kept in .env, where docker compose reads it as well
  sed -i.bak '/^COMPOSE_FILE=/d' .env && rm -f .env.bak
  printf 'COMPOSE_FILE=%s\n' "$variant" >> .env
fi
COMPOSE_FILE=$(env_get COMPOSE_FILE)
export COMPOSE_FILE=${COMPOSE_FILE:-docker-compose.yml}
postgres=false
[ "$COMPOSE_FILE" = docker-compose.postgres.yml ] && postgres=true

uid=$(id -u) gid=$(id -g)
if [ "$uid" = 0 ]; then uid=10001 gid=10001; fi   # never run the containers as root
mkdir -p data/collector data/grafana
if $postgres; then mkdir -p data/postgres && chmod 700 data/postgres; fi
if [ "$(id -u)" = 0 ]; then chown -R "$uid:$gid" data; fi
chmod 700 data   # prompts and usage live here

if [ -z "$(env_get GRAFANA_ADMIN_PASSWORD)" ]; then
  env_default GRAFANA_ADMIN_PASSWORD "${GRAFANA_ADMIN_PASSWORD:-$(generated)}"
fi
env_default CCMONITOR_UID "$uid"
env_default CCMONITOR_GID "$gid"
env_default OTLP_BIND_ADDRESS 127.0.0.1
if $postgres; then   # the admin, ccmonitor's writer role and Grafana's read-only role
  for name in POSTGRES_PASSWORD CCMONITOR_DB_PASSWORD GRAFANA_DB_PASSWORD; do env_default "$name" "$(generated)"; done
fi

# ---- 3. build, start, wait
docker compose build
docker compose up -d

status() {
  local id
  id=$(docker compose ps -q "$1" 2>/dev/null | head -n1)
  [ -n "$id" ] || { echo missing; return; }
  docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id"
}
say "waiting for the services to be healthy (up to ${timeout_s}s)..."
deadline=$((SECONDS + timeout_s))
while :; do
  ccmonitor=$(status ccmonitor) grafana=$(status grafana) collector=$(status otel-collector)
  database=healthy states="ccmonitor=$ccmonitor grafana=$grafana otel-collector=$collector"
  if $postgres; then database=$(status postgres) states="$states postgres=$database"; fi
  if [ "$ccmonitor" = healthy ] && [ "$grafana" = healthy ] && [ "$collector" = running ] \
      && [ "$database" = healthy ]; then break; fi
  if [ $SECONDS -ge $deadline ]; then
    say "not healthy after ${timeout_s}s: $states" >&2
    say "look at: docker compose ps; docker compose logs --tail 50" >&2
    exit 1
  fi
  sleep 2
done

bind=$(env_get OTLP_BIND_ADDRESS)
data="./data/claude_monitoring.db"
if $postgres; then data="PostgreSQL in ./data/postgres (docker compose exec postgres psql -U postgres ccmonitor)"; fi
cat <<DONE

Claude Code Monitoring is running.
  Grafana        http://localhost:3000   user: admin   password: $(env_get GRAFANA_ADMIN_PASSWORD)
                 dashboard "Claude Code Monitoring Dashboard"
  ccmonitor      http://localhost:5000   (built-in dashboard, /health, /stats)
  OTLP gRPC      ${bind}:4317
  OTLP HTTP      ${bind}:4318
  Data           $data
The password is kept in .env (mode 600).

Next: ./configure-claude.sh   (points Claude Code at localhost:4317), then start a Claude Code session.
Manage: docker compose ps | logs -f | restart | down
DONE
