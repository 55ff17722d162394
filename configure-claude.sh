#!/usr/bin/env bash
# Point Claude Code at the monitor: runs `ccmonitor configure`, which merges the telemetry settings
# into the env block of ~/.claude/settings.json (with a backup; other settings are kept).
# Arguments go to `ccmonitor configure`, e.g.
#   ./configure-claude.sh --log-prompts          also send prompt text (prints a privacy warning)
#   ./configure-claude.sh --project ~/src/app    write that project's .claude/settings.json instead
#   ./configure-claude.sh --shell zsh            print export lines instead of writing settings
#   ./configure-claude.sh -r team=platform       add resource attributes
# Uses an installed `ccmonitor`, else this repository's .venv, else the ccmonitor:local image that
# setup.sh built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if command -v ccmonitor >/dev/null 2>&1; then
  exec ccmonitor configure "$@"
elif [ -x "$here/.venv/bin/ccmonitor" ]; then
  exec "$here/.venv/bin/ccmonitor" configure "$@"
elif command -v docker >/dev/null 2>&1 && docker image inspect ccmonitor:local >/dev/null 2>&1; then
  mkdir -p "$HOME/.claude"
  tty=(-i); [ -t 0 ] && [ -t 1 ] && tty=(-it)
  exec docker run --rm "${tty[@]}" --user "$(id -u):$(id -g)" \
    -e HOME=/home/claude -v "$HOME/.claude:/home/claude/.claude" \
    -v "$PWD:$PWD" -w "$PWD" \
    ccmonitor:local configure "$@"
else
  echo "configure-claude.sh: no ccmonitor found. Run ./setup.sh first (it builds the ccmonitor image)," >&2
  echo "or install it: pip install $here" >&2
  exit 1
fi
