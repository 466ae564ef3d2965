#!/usr/bin/env bash
# Run a command against a throwaway Chroma server:
#
#   scripts/chroma-server.sh COMMAND [ARG ...]
#
# Starts `chroma run` on a free loopback port with a temporary --path, waits for its
# heartbeat, runs COMMAND with PEERQA_TEST_CHROMA_URL set to the server, then stops the
# server and deletes its data, whatever way COMMAND (or this script) ends. Exits with
# COMMAND's status. CHROMA (default: the venv's `chroma`) and PYTHON (default: the venv's
# python) may be overridden; CHROMA_STARTUP_SECONDS bounds the wait for the heartbeat.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CHROMA="${CHROMA:-$ROOT/.venv/bin/chroma}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
STARTUP_SECONDS="${CHROMA_STARTUP_SECONDS:-60}"
ATTEMPTS=3 # a free port can be taken between choosing it and binding it: retry

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARG ...]" >&2
    exit 64
fi

DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/peerqa-chroma.XXXXXX")"
LOG="$DATA_DIR/server.log"
SERVER_PID=""
WATCHDOG_PID=""

stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do # up to 5 s for a clean shutdown, then SIGKILL
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP
    if [[ -n "$WATCHDOG_PID" ]]; then
        kill "$WATCHDOG_PID" 2>/dev/null || true
        wait "$WATCHDOG_PID" 2>/dev/null || true
    fi
    stop_server
    rm -rf "$DATA_DIR"
    exit "$status"
}
trap cleanup EXIT
# Signals end the script through the EXIT trap, with the conventional 128+N status.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    "$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# 0 once GET /api/v2/heartbeat answers 200. No proxy: the server is on loopback.
heartbeat() {
    "$PYTHON" - "$1" <<'PY' >/dev/null 2>&1
import sys
import urllib.request

opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with opener.open(f"{sys.argv[1]}/api/v2/heartbeat", timeout=2) as response:
    sys.exit(0 if response.status == 200 else 1)
PY
}

# Starts the server; 0 once its heartbeat answers, 1 if it exits or stays silent.
start_server() {
    local port="$1" url="$2"
    "$CHROMA" run --path "$DATA_DIR/db" --host 127.0.0.1 --port "$port" >"$LOG" 2>&1 &
    SERVER_PID=$!
    local deadline=$((SECONDS + STARTUP_SECONDS))
    while ((SECONDS < deadline)); do
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        heartbeat "$url" && return 0
        sleep 0.2
    done
    return 1
}

URL=""
for attempt in $(seq "$ATTEMPTS"); do
    port="$(free_port)"
    if start_server "$port" "http://127.0.0.1:$port"; then
        URL="http://127.0.0.1:$port"
        break
    fi
    echo "chroma-server: attempt $attempt on port $port failed; server log:" >&2
    tail -n 20 "$LOG" >&2 || true
    stop_server
done
if [[ -z "$URL" ]]; then
    echo "chroma-server: could not start $CHROMA" >&2
    exit 1
fi

# Should this script be SIGKILLed (no trap runs), the server still goes: a watchdog
# stops it once this shell is gone. Its own stdio is detached so it never holds a pipe.
# It waits with the `read -t` builtin on a private FIFO, so killing it leaves no `sleep`.
SCRIPT_PID=$$
mkfifo "$DATA_DIR/tick"
(
    trap - EXIT INT TERM HUP
    exec 3<>"$DATA_DIR/tick"
    while kill -0 "$SCRIPT_PID" 2>/dev/null; do read -r -t 1 -u 3 _ || true; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    rm -rf "$DATA_DIR"
) </dev/null >/dev/null 2>&1 &
WATCHDOG_PID=$!

echo "chroma-server: Chroma $("$PYTHON" -c 'import chromadb; print(chromadb.__version__)') at $URL (data in $DATA_DIR)" >&2
export PEERQA_TEST_CHROMA_URL="$URL"
# Loopback traffic must never go to a proxy from the environment (httpx honours NO_PROXY).
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

# Not `exec`: the EXIT trap must outlive COMMAND to stop the server.
set +e
"$@"
status=$?
set -e
exit "$status"
