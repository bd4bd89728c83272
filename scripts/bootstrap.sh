#!/usr/bin/env bash
# Set up floorsync on a fresh Debian/Ubuntu machine and run it.
#   bash scripts/bootstrap.sh demo [demo options]   -> environment + the whole system (floorsync demo)
#   bash scripts/bootstrap.sh test [pytest args]    -> environment + system packages + the full test suite
# Idempotent: a second run only re-checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-}; shift || true
VENV=${FLOORSYNC_VENV:-$ROOT/.venv}

say() { printf '\033[1m[floorsync]\033[0m %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else say "need root (or sudo) to run: $*"; say "install these Debian packages by hand, then re-run: $MISSING"; exit 1; fi
}

# Debian packages: the real components the system and its tests run against.
MISSING=""
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
system_packages() {
  local pkgs=("$@")
  MISSING=""
  for p in "${pkgs[@]}"; do have_pkg "$p" || MISSING="$MISSING $p"; done
  if [ -n "$MISSING" ]; then
    say "installing Debian packages:$MISSING"
    need_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $MISSING >/dev/null
  fi
}

python_env() {
  local py=""
  for cand in python3.13 python3.12 python3.11 python3; do
    # (pyenv shims exist for versions that are not selected: a failing probe is just skipped, quietly)
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then py=$cand; break; fi
  done
  if [ -z "$py" ]; then
    system_packages python3 python3-venv
    py=python3
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtualenv $VENV with $($py --version)"
    "$py" -m venv "$VENV" || { system_packages python3-venv; "$py" -m venv "$VENV"; }
  fi
  local stamp="$VENV/.floorsync-installed"
  if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ]; then
    say "installing Python dependencies"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e ".[test]"
    touch "$stamp"
  fi
}

case "$MODE" in
  demo)
    system_packages mosquitto
    python_env
    exec "$VENV/bin/floorsync" demo "$@"
    ;;
  test)
    # mosquitto: the real broker; postgresql: central's production database; chromium: page tests;
    # poppler-utils: pdftoppm renders PDFs for barcode round-trip tests; fonts-wqy-microhei: CJK glyphs in label previews.
    system_packages mosquitto postgresql chromium poppler-utils fonts-wqy-microhei
    python_env
    # Two workers for two cores; each test uses its own free loopback ports.
    set +e
    "$VENV/bin/python" -m pytest -n 2 --dist loadfile "$@"
    rc=$?
    set -e
    # pytest exits 5 when it collected nothing: that must fail, never pass.
    exit $rc
    ;;
  *)
    echo "usage: bash scripts/bootstrap.sh demo|test [args]" >&2
    exit 2
    ;;
esac
