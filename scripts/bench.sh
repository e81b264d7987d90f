#!/usr/bin/env bash
# The benchmark suite: Parley's bench-server (apps/bench-server) against the reference
# socket.io server (bench/reference-server.mjs), interleaved, a fresh server per run, driven by
# the load generator bench/loadgen. Not part of the test command; BENCHMARKS.md has the results.
#
#   scripts/bench.sh                          # every scenario, once (about 10 minutes)
#   scripts/bench.sh --repeat 3               # three runs per server and case: the spread
#   scripts/bench.sh --scenario fanout,echo   # connect, idle, fanout, echo, scaling, chat
#   scripts/bench.sh --smoke                  # CI: tiny sizes, both servers, seconds
#
# Every other option goes to the load generator (build-bench/bench/loadgen --help): sizes,
# --servers, --gen-threads, ... The report (Markdown, with the machine and the versions) is
# written to build-bench/bench-<date>.md. Exit status 1 when a run fails (a session that did
# not connect, a lost message or ack, a server that died).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR=${BUILD_DIR:-build-bench}
JOBS=${JOBS:-2}

scripts/install-deps.sh

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPARLEY_TESTS=OFF -DPARLEY_BENCH=ON >/dev/null
ninja -C "$BUILD_DIR" -j"$JOBS" loadgen bench-server
# The chat scenario runs the parley service; without it that scenario says so and is skipped.
if [[ " $* " == *" --smoke "* || " $* " != *" --scenario "* || " $* " == *chat* ]]; then
  ninja -C "$BUILD_DIR" -j"$JOBS" parley || echo "bench: the parley service did not build: no chat scenario" >&2
fi

# One descriptor per session in the generator and one in the server: as many as allowed.
ulimit -Hn 1048576 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

report="$BUILD_DIR/bench-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "## Run of $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- command: \`scripts/bench.sh $*\`"
  echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), kernel $(uname -r)," \
    "$(awk '/MemTotal/ {printf "%.0f GB RAM", $2 / 1048576}' /proc/meminfo)"
  echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg); open-files limit: $(ulimit -n);" \
    "ephemeral ports: $(tr '\t' '-' </proc/sys/net/ipv4/ip_local_port_range)"
  echo "- versions: node $(node --version), socket.io $(node -p 'require("./node_modules/socket.io/package.json").version')," \
    "$(g++ --version | head -n1), Boost 1.81, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
} >"$report"
cat "$report"

rc=0
"$BUILD_DIR/bench/loadgen" \
  --parley "$BUILD_DIR/apps/bench-server/bench-server" \
  --reference "node bench/reference-server.mjs" \
  --chat "$BUILD_DIR/apps/parley/parley" \
  --report "$report" "$@" || rc=$?
echo "bench: report in $report"
exit "$rc"
