#!/usr/bin/env bash
# Headless Chromium for the browser tests, from Debian's package (Playwright's own
# browser downloads are impossible offline). Idempotent: a no-op when it is present.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

fail() {
  echo "browser-deps: could not install Debian's chromium package ($1)." >&2
  echo "browser-deps: install it yourself (apt-get install chromium) so $CHROMIUM exists;" >&2
  echo "browser-deps: the browser tests need it and fail without it." >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found: not a Debian/Ubuntu system"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "not root and no sudo"
  SUDO="sudo"
fi

echo "browser-deps: installing chromium (apt-get; takes a minute or two)..."
# apt's chatter goes to a log, shown only when something goes wrong.
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
run() { $SUDO env DEBIAN_FRONTEND=noninteractive "$@" >"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; fail "$* failed"; }; }
run apt-get update -qq
run apt-get install -y -qq --no-install-recommends chromium
[ -x "$CHROMIUM" ] || fail "package installed but $CHROMIUM is missing"
echo "browser-deps: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed at $CHROMIUM"
