#!/usr/bin/env bash
# Runs the whole test suite. Sets up what it can (the venv, Python packages, the pinned Claude Code
# CLI from npm) and names any missing system tool with the command that installs it.
# Extra arguments go to pytest (e.g. ./run-tests.sh -k captures).
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { echo "need Python 3.11+ (found $("$PY" --version 2>&1))"; exit 2; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1: $2"); }
need node "apt-get install -y nodejs npm   (Claude Code end-to-end tests)"
need npm "apt-get install -y npm"
need chromium "apt-get install -y chromium chromium-driver   (dashboard browser tests)"
need chromedriver "apt-get install -y chromium-driver"
need sqlite3 "apt-get install -y sqlite3   (the documented queries are run in the sqlite3 shell)"
[ "$(id -u)" = 0 ] && need setpriv "apt-get install -y util-linux   (as root, the throwaway PostgreSQL runs as its owner)"
# Debian keeps the PostgreSQL server binaries out of PATH, under /usr/lib/postgresql/<version>/bin.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null \
  || need initdb "apt-get install -y postgresql   (PostgreSQL storage tests start a throwaway server)"

if command -v npm >/dev/null 2>&1; then
  want=$(.venv/bin/python -c 'import json; print(json.load(open("tests/e2e/package.json"))["dependencies"]["@anthropic-ai/claude-code"])')
  have=$(.venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' \
    tests/e2e/node_modules/@anthropic-ai/claude-code-linux-x64/package.json 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    (cd tests/e2e && npm ci --ignore-scripts --engine-strict=false --no-audit --no-fund --loglevel=error)
  fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "Missing system tools; the tests that need them will fail until installed:"
  printf '  - %s\n' "${missing[@]}"
fi

# The tree stays lint- and type-clean because the test command checks it, not because someone remembers.
.venv/bin/ruff check --quiet src tests benchmarks
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
