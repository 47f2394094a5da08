#!/usr/bin/env bash
# Stops the nats-server (and a project-local PostgreSQL, if one was created) that up.sh started.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
pid_file="$root/.local/nats/pid"
if [ -f "$pid_file" ] && kill "$(cat "$pid_file")" 2>/dev/null; then echo "down: nats-server stopped"; fi
rm -f "$pid_file"
if [ -f "$root/.local/pg/data/PG_VERSION" ]; then
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  su postgres -s /bin/sh -c "$bin/pg_ctl -D '$root/.local/pg/data' stop" >/dev/null 2>&1 && echo "down: local PostgreSQL stopped" || true
fi
