#!/usr/bin/env bash
# Installs what building and testing tandem needs on Debian bookworm, and nothing that is already there.
#   scripts/setup.sh            everything (native + wasm toolchain + chromium + npm packages)
#   scripts/setup.sh --no-browser   skip chromium (the demo only needs a browser you already have)
# Idempotent: a second run only checks. Uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=1
[ "${1:-}" = "--no-browser" ] && want_browser=0

# libsrtp2 (on OpenSSL, libssl-dev), usrsctp (with a clock hook) and mbedTLS (AES-GCM on OpenSSL) are built
# from Debian's source packages by scripts/build-native-deps.sh (dpkg-dev unpacks the sources); Debian's
# libsrtp2-dev (NSS) is only needed for cmake -DTANDEM_DEBIAN_SRTP2=ON comparisons, libusrsctp-dev and
# libmbedtls-dev not at all.
packages=(build-essential cmake ninja-build pkg-config python3 git
          libssl-dev libprotobuf-dev protobuf-compiler catch2
          libopus-dev libvpx-dev
          emscripten node-acorn dpkg-dev)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
[ "$want_browser" = 1 ] && packages+=(chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  echo "[setup] installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "[setup] Debian packages: all present"
fi

# npm packages (protobufjs for the JS API, playwright-core to drive Debian's chromium, ...). `npm ci` only
# when the lock file changed since the last install.
if [ -f package-lock.json ]; then
  stamp=node_modules/.tandem-lock-sha
  sha=$(sha256sum package-lock.json | cut -c1-16)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sha" ]; then
    echo "[setup] npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$sha" > "$stamp"
  else
    echo "[setup] npm packages: up to date"
  fi
fi
