#!/usr/bin/env bash
# Installs what Parley needs to build and test, and only what is missing:
# Debian packages with apt-get, then the npm packages of package-lock.json with `npm ci`.
# Safe to run again and again: with everything in place it changes nothing and takes ~1 s.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# NEVER add libboost-dev, libmsgpack-dev or libmsgpack-cxx-dev: they pull Boost 1.74,
# which conflicts with the 1.81 packages below.
APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  clang libclang-rt-14-dev  # clang and its libFuzzer/sanitizer runtimes, for fuzz builds
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libspdlog-dev libcli11-dev libjwt-dev libsqlite3-dev libtomlplusplus-dev
  redis-server  # the Redis client's (and adapters') tests start their own on a free port
  chromium fonts-liberation  # the web page's browser tests (tests/web/, driven by playwright-core)
)

is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done
# Node.js and npm are checked as commands, not packages: a machine may have NodeSource's
# nodejs, which bundles npm and conflicts with Debian's npm package.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if is_installed libboost1.74-dev; then
  echo "install-deps: warning: libboost1.74-dev is installed (pulled by libboost-dev or libmsgpack*-dev?); Parley needs Boost 1.81 only" >&2
fi

# npm packages: `npm ci` when node_modules is missing or does not match package-lock.json.
# npm keeps what it installed in node_modules/.package-lock.json; compare the versions.
npm_in_sync() {
  [[ -f node_modules/.package-lock.json ]] || return 1
  node -e '
    const fs = require("fs");
    const want = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages ?? {};
    const have = JSON.parse(fs.readFileSync("node_modules/.package-lock.json", "utf8")).packages ?? {};
    const keys = new Set([...Object.keys(want), ...Object.keys(have)]);
    keys.delete("");
    for (const k of keys) {
      if (want[k]?.version !== have[k]?.version || !fs.existsSync(k)) process.exit(1);
    }
  '
}
if ! npm_in_sync; then
  echo "install-deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
