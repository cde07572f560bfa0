#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (initdb, pg_ctl, postgres, pg_basebackup, pg_rewind) exist.
# The lab looks in PATH and /usr/lib/postgresql/*/bin. When none is found and we may use apt, install
# Debian's server package; otherwise say how to get it.
set -u
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) $(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/x)"); do
  if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/pg_basebackup" ]; then exit 0; fi
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL server binaries not found: installing Debian package postgresql" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || {
    echo "could not install postgresql with apt-get" >&2; exit 3; }
  exit 0
fi
echo "PostgreSQL server binaries not found: install them (Debian/Ubuntu: 'apt-get install postgresql'," \
     "macOS: 'brew install postgresql@15') or put their bin directory on PATH" >&2
exit 3
