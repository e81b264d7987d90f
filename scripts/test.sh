#!/usr/bin/env bash
# Parley's test command (the README's): installs what is missing, then
#   1. builds everything in build/ (RelWithDebInfo, tests on) and runs ctest;
#   2. builds the unit tests with AddressSanitizer + UBSan in build-asan/ and runs them;
#   3. runs the end-to-end tests (tests/e2e/, the real socket.io-client) against the
#      C++ e2e server, build/apps/e2e-server/e2e-server (or $E2E_SERVER);
#   then the protocol, chat service and web page tests, and the cluster tests (tests/cluster/:
#   Parley and Node.js members on one redis-server).
# Every stage runs even when an earlier one failed (when it can; builds keep going past a
# failing target), and the last line is
#   tests: <passed> passed, <failed> failed
# summed over the ctest and node test runs; a build that fails counts as one failure.
# Exits non-zero on any failure.
#
# Environment: JOBS (default 2), E2E_SERVER (see tests/e2e/CONTRACT.md), CLUSTER_MEMBERS (see
# tests/cluster/README.md),
# PARLEY_SKIP_ASAN=1 to leave out stage 2 (for a quicker local run; CI never sets it).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
JOBS=${JOBS:-2}
E2E_SERVER_BIN=build/apps/e2e-server/e2e-server

passed=0
failed=0
notes=()
LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/parley-tests.XXXXXX")
trap 'rm -rf "$LOG_DIR"' EXIT

stage() { printf '\n==== %s ====\n' "$*"; }
fail_note() {
  failed=$((failed + 1))
  notes+=("$1")
  echo "FAILED: $1" >&2
}

# configure <dir> <cmake args...>: configures with Ninja, once; later runs reuse it.
configure() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
}

# Adds the counts of a ctest log: "NN% tests passed, F tests failed out of T".
count_ctest() {
  local log=$1 rc=$2 what=$3 line total fail
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n1)
  if [[ -n $line ]]; then
    fail=$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$line")
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    passed=$((passed + total - fail))
    failed=$((failed + fail))
    ((fail == 0)) || notes+=("$what: $fail failed")
    if ((fail == 0 && rc != 0)); then fail_note "$what: ctest exited $rc"; fi
  elif grep -q 'No tests were found' "$log"; then
    echo "($what: no tests yet)"
    if ((rc != 0)); then fail_note "$what: ctest exited $rc"; fi
  else
    fail_note "$what: ctest exited $rc without a summary"
  fi
}

# Adds the counts of a `node --test --test-reporter=spec` log: "ℹ pass N", "ℹ fail N", "ℹ cancelled N".
count_node() {
  local log=$1 rc=$2 what=$3 p f c
  p=$(grep -E '^ℹ pass [0-9]+$' "$log" | tail -n1 | awk '{print $3}')
  f=$(grep -E '^ℹ fail [0-9]+$' "$log" | tail -n1 | awk '{print $3}')
  c=$(grep -E '^ℹ cancelled [0-9]+$' "$log" | tail -n1 | awk '{print $3}')
  if [[ -z $p || -z $f ]]; then
    fail_note "$what: node exited $rc without a summary"
    return
  fi
  passed=$((passed + p))
  failed=$((failed + f + ${c:-0}))
  ((f + ${c:-0} == 0)) || notes+=("$what: $((f + ${c:-0})) failed")
  if ((f + ${c:-0} == 0 && rc != 0)); then fail_note "$what: node exited $rc"; fi
  if ((p + f + ${c:-0} == 0)); then fail_note "$what: ran no test"; fi
}

# The test executables of a configured build dir: the linked executables under tests/.
test_targets() {
  ninja -C "$1" -t targets all 2>/dev/null |
    awk -F': ' '$1 ~ /^tests\// && $2 ~ /^CXX_EXECUTABLE_LINKER/ {print $1}'
}

stage "dependencies"
if ! scripts/install-deps.sh; then
  echo "install-deps failed" >&2
  echo "tests: 0 passed, 1 failed"
  exit 1
fi

# ---- 1. everything, RelWithDebInfo -------------------------------------------------
# Builds keep going past a failing target (ninja -k 0), so that the tests of the parts that do
# build still run; a test executable that did not build shows up in ctest as a failed
# <name>_NOT_BUILT test.
stage "build (build/, RelWithDebInfo)"
configured=0
if configure build -DPARLEY_TESTS=ON; then
  configured=1
  cmake --build build -j"$JOBS" -- -k 0 || fail_note "build/ did not build entirely"
  stage "unit tests (build/)"
  ctest --test-dir build --output-on-failure -j"$JOBS" 2>&1 | tee "$LOG_DIR/ctest.log"
  count_ctest "$LOG_DIR/ctest.log" "${PIPESTATUS[0]}" "ctest build/"
else
  fail_note "build/ did not configure"
fi

# ---- 2. unit tests with AddressSanitizer + UBSan -----------------------------------
if [[ ${PARLEY_SKIP_ASAN:-0} != 1 ]]; then
  stage "build (build-asan/, unit tests with ASan + UBSan)"
  if configure build-asan -DPARLEY_TESTS=ON -DPARLEY_SANITIZE=ON; then
    mapfile -t targets < <(test_targets build-asan)
    if ((${#targets[@]} == 0)); then
      echo "(no unit test executables yet)"
    else
      ninja -C build-asan -j"$JOBS" -k 0 "${targets[@]}" || fail_note "build-asan/ did not build entirely"
      stage "unit tests (build-asan/)"
      ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        ctest --test-dir build-asan --output-on-failure -j"$JOBS" 2>&1 | tee "$LOG_DIR/ctest-asan.log"
      count_ctest "$LOG_DIR/ctest-asan.log" "${PIPESTATUS[0]}" "ctest build-asan/"
    fi
  else
    fail_note "build-asan/ did not configure"
  fi
fi

# ---- 3. end-to-end tests with the real socket.io-client ----------------------------
server=${E2E_SERVER:-$E2E_SERVER_BIN}
stage "end-to-end tests (tests/e2e/, server: $server)"
run_e2e=1
if [[ -z ${E2E_SERVER:-} ]]; then
  # The default binary must be up to date: after a failed build it may be a stale one.
  if ((!configured)) || ! ninja -C build e2e-server >/dev/null 2>&1; then
    fail_note "e2e: not run, apps/e2e-server did not build"
    run_e2e=0
  fi
elif [[ $server != reference && ! -x $server && ! -x $ROOT/$server ]]; then
  fail_note "e2e: not run, no server binary at $server"
  run_e2e=0
fi
if ((run_e2e)); then
  E2E_SERVER=$server node --test --test-reporter=spec tests/e2e/ 2>&1 | tee "$LOG_DIR/e2e.log"
  count_node "$LOG_DIR/e2e.log" "${PIPESTATUS[0]}" "e2e"
fi

# ---- 4. Engine.IO at the wire level (tests/protocol/, apps/conformance-server) -------
# node_test_stage <title> <dir> <target> <env var=value>...: runs node tests of <dir> against a
# freshly built <target>, or notes why not.
node_test_stage() {
  local title=$1 dir=$2 target=$3
  shift 3
  stage "$title"
  if ((!configured)) || ! ninja -C build "$target" >/dev/null 2>&1; then
    fail_note "$dir: not run, $target did not build"
    return
  fi
  env "$@" node --test --test-reporter=spec "$dir" 2>&1 | tee "$LOG_DIR/$target.log"
  count_node "$LOG_DIR/$target.log" "${PIPESTATUS[0]}" "$dir"
}
node_test_stage "Engine.IO protocol tests (tests/protocol/)" tests/protocol/ conformance-server \
  CONFORMANCE_SERVER=build/apps/conformance-server/conformance-server

# ---- 5. the chat service's contract (tests/chat/, apps/parley) --------------------
if [[ -d tests/chat ]]; then
  node_test_stage "chat service tests (tests/chat/)" tests/chat/ parley PARLEY_BIN=build/apps/parley/parley
fi

# ---- 6. the web page in Debian's chromium (tests/web/) -----------------------------
if [[ -d tests/web ]]; then
  node_test_stage "web page in chromium (tests/web/)" tests/web/ parley PARLEY_BIN=build/apps/parley/parley
fi

# ---- 7. clusters on one Redis (tests/cluster/, apps/cluster-member + tests/cluster/node-member.mjs)
# Parley and Node.js members mixed (CLUSTER_MEMBERS, default parley,node,parley); .ci/run also
# runs them on Node.js members only, which proves the tests themselves.
if [[ -d tests/cluster ]]; then
  members=${CLUSTER_MEMBERS:-parley,node,parley}
  node_test_stage "cluster tests (tests/cluster/, members: $members)" tests/cluster/ cluster-member \
    CLUSTER_MEMBERS="$members" CLUSTER_MEMBER_BIN=build/apps/cluster-member/cluster-member
fi

stage "summary"
for n in "${notes[@]}"; do echo "  - $n"; done
echo "tests: $passed passed, $failed failed"
((failed == 0))
