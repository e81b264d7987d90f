#!/usr/bin/env bash
# The README's first command: installs what is missing, builds the server program and
# runs it. Arguments are passed to the program; the port is --port N, default $PORT or 3000.
#   scripts/run.sh               # http://127.0.0.1:3000
#   PORT=8080 scripts/run.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The program to run: its CMake target and the binary it builds.
SERVER_TARGET=parley
SERVER_BIN=build/apps/parley/parley

JOBS=${JOBS:-2}
if [[ ! -d apps/$SERVER_TARGET ]]; then
  echo "run: apps/$SERVER_TARGET does not exist yet (set SERVER_TARGET/SERVER_BIN in $0)" >&2
  exit 1
fi
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$JOBS" --target "$SERVER_TARGET"

if [[ " $* " != *" --port "* ]]; then
  set -- --port "${PORT:-3000}" "$@"
fi
# The embedded default run: SQLite in the working directory, the development secret (parley
# warns about it) and the web page's development sign-in.
set -- --dev-login "$@"
cat <<EOF
Open http://127.0.0.1:${PORT:-3000}/ and sign in with any name, or get a token for a client:
  $SERVER_BIN token --user alice --name Alice
EOF
echo "run: $SERVER_BIN $*"
exec "$SERVER_BIN" "$@"
