#!/usr/bin/env bash
# Start Debian's PostgreSQL and make the test role and database; prints the URL for
# GANKIT_TEST_POSTGRES (tests/studies/test_postgres.py).  Needs root; safe to run again.
set -euo pipefail
ver=$(ls /usr/lib/postgresql | sort -V | tail -1)  # the newest installed major version
# the cluster "main" (Debian's package makes it; a bare image may lack it)
pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" {f = 1} END {exit !f}' \
  || pg_createcluster "$ver" main >/dev/null
pg_ctlcluster "$ver" main status >/dev/null 2>&1 || pg_ctlcluster "$ver" main start >&2
# Debian's default listens on localhost (127.0.0.1) with password logins over TCP
port=$(pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" {print $3}')
sql() { runuser -u postgres -- psql -p "$port" -qtAX -v ON_ERROR_STOP=1 "$@"; }
# CREATEDB: each test makes (and drops) its own database
[ -n "$(sql -c "SELECT 1 FROM pg_roles WHERE rolname = 'gankit'")" ] \
  || sql -c "CREATE ROLE gankit LOGIN CREATEDB PASSWORD 'gankit'"
[ -n "$(sql -c "SELECT 1 FROM pg_database WHERE datname = 'gankit_test'")" ] \
  || sql -c "CREATE DATABASE gankit_test OWNER gankit"
echo "postgresql://gankit:gankit@127.0.0.1:$port/gankit_test"
