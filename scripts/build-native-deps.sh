#!/usr/bin/env bash
# Builds the native dependencies that tandem does not take from Debian's binary packages, from Debian's
# *source* packages (the same versions as the wasm build), as static, position-independent libraries:
#  - libsrtp2 2.5.0 on the OpenSSL crypto backend (why: below);
#  - usrsctp 0.9.5.0 with scripts/patches/usrsctp-clock-hook.patch (shared with the wasm build): usrsctp reads
#    gettimeofday() for RTT samples and for deciding which chunks a T3 timeout retransmits, while its timers run
#    on the time tandem drives (usrsctp_handle_timers). With both on one clock (usrsctp_tandem_set_clock, set by
#    core/transport/sctp/usrsctp_runtime.cpp) SCTP behaves the same on simulated time as on real time; without
#    it a lossy simulated link stalls (T3 fires, but no chunk is "old enough" on the wall clock to resend).
#    Also scripts/patches/usrsctp-t3-restart.patch (shared): the retransmission timer restarts on every SACK
#    that moves the cumulative ack, as RFC 4960 says; 0.9.5 let it expire every RTO on a busy association,
#    turning losses into timeouts (the patch says what was measured).
#    AF_CONN only (no IPv4/IPv6 raw-socket support), as in the wasm build. Natively also
#    scripts/patches/native/usrsctp-zone-cache.patch: a per-thread cache of freed mbufs, clusters and chunks in
#    front of malloc (usrsctp allocates ~15 per packet; malloc and free were ~15 % of a transfer's CPU).
#  - mbedTLS 2.28.3 with Debian's configuration plus MBEDTLS_GCM_ALT: its AES-GCM runs on OpenSSL
#    (scripts/patches/native/mbedtls-gcm-openssl/: why, and the two paths). mbedTLS's own GCM is ~6 ns per byte
#    and was over half of the CPU of a native data channel transfer; OpenSSL's AES-NI + PCLMUL code is several
#    times faster, and with the AES-NI path a record skips EVP's ~450 ns of fixed cost. mbedTLS's GCM and
#    cipher test suites run against both paths after each build (a wrong tag or plaintext fails the build). Without MBEDTLS_DEBUG_C: its tracing calls ran on
#    every DTLS record (~2.5 % of a transfer's CPU) although tandem installs no debug callback.
#
# Why not Debian's libsrtp2-1: it is built on NSS, which creates crypto contexts per packet (14 heap allocations
# per AES-CM packet, 5 per AES-GCM packet, ~2.8 us to protect 100 bytes). On OpenSSL, with the one patch in
# scripts/patches/native/ (HMAC-SHA1 without OpenSSL 3.0's per-packet context copy), a packet allocates nothing
# and AES-CM protects 100 bytes in ~0.35 us (AES-NI, SHA-NI). mbedTLS 2.28 (the wasm backend) also allocates
# nothing but its GCM is ~8x slower than OpenSSL's at 1200 bytes. Figures: bench/RESULTS.md, issue 3 section.
#
# Output: a prefix with include/ and lib/ under $TANDEM_CACHE (default ~/.cache/tandem)/native-deps/<key>, the
# key hashed from this script, its patches, the source package version, the OpenSSL headers' package version,
# the C compiler and the build type: an unchanged setup returns at once, any change builds a fresh prefix
# (about 10 s on 2 cores). Prints the prefix as the last line of stdout; everything else goes to stderr.
# cmake/Dependencies.cmake runs this script at configure time (unless TANDEM_NATIVE_DEPS names a prefix).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${TANDEM_CACHE:-$HOME/.cache/tandem}
jobs=${JOBS:-$(nproc)}
build_type=${NATIVE_DEPS_BUILD_TYPE:-Release}
cc=${CC:-cc}
packages=(libsrtp2 libusrsctp mbedtls)
unset CFLAGS CPPFLAGS LDFLAGS   # not part of the key, so they must not change what gets built
log() { echo "[native-deps] $*" >&2; }

# deb-src entries are needed for `apt-get source`; add them once, mirroring the binary sources (as the wasm
# script does; whichever runs first adds them).
ensure_deb_src() {
  if apt-get source --download-only --print-uris libsrtp2 >/dev/null 2>&1; then return; fi
  local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  log "adding deb-src entries for Debian source packages"
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
    $sudo tee /etc/apt/sources.list.d/tandem-deb-src.sources >/dev/null
  $sudo apt-get update -qq >&2
}

ensure_deb_src
versions=""
for p in "${packages[@]}"; do
  # Readers that consume all their input: one that stops early (awk's exit, head) can kill the writer with
  # SIGPIPE, which pipefail turns into a silent failure of this script (it happened in CI, under load).
  v=$(apt-cache showsrc "$p" 2>/dev/null | awk '/^Version:/ && v == "" {v = $2} END {print v}')
  [ -n "$v" ] || { log "cannot find source package $p"; exit 1; }
  versions+="$p=$v;"
done
openssl_version=$(dpkg-query -W -f='${Version}' libssl-dev 2>/dev/null || true)
[ -n "$openssl_version" ] || { log "libssl-dev is not installed (scripts/setup.sh installs it)"; exit 1; }
cc_version=$("$cc" --version 2>/dev/null | sed -n 1p)
key=$(cat "$0" "$here/patches/native/"*.patch "$here/patches/native/mbedtls-gcm-openssl/"* \
  "$here/patches/usrsctp-clock-hook.patch" "$here/patches/usrsctp-t3-restart.patch" |
  { cat; echo "$versions|libssl-dev=$openssl_version|$cc_version|$build_type"; } | sha256sum | cut -c1-16)
prefix="$cache/native-deps/$key"
if [ -f "$prefix/.complete" ]; then
  log "cached: $prefix"
  echo "$prefix"
  exit 0
fi

# One build per key at a time (the native, ASan and TSan configures, several work trees, CI); whoever waited
# finds the finished prefix.
mkdir -p "$cache/native-deps"
exec 9>"$cache/native-deps/$key.lock"
if ! flock -n 9; then
  log "another build of $key is running; waiting for it"
  flock 9
fi
if [ -f "$prefix/.complete" ]; then
  log "cached (built meanwhile): $prefix"
  echo "$prefix"
  exit 0
fi

src="$cache/native-deps/src-$key"
rm -rf "$src" "$prefix"
mkdir -p "$src"
cd "$src"
log "fetching source packages: $versions"
apt-get source --download-only "${packages[@]}" >&2
for d in ./*.dsc; do dpkg-source --no-check -x "$d" >&2; done   # applies Debian's own patches too
timed() { local t=$SECONDS; "$@" >&2; log "$1 took $((SECONDS - t)) s"; }

build_srtp() {
  # Static and PIC: it ends up inside libtandem.so as well as in the executables. Not built with the
  # sanitizers: the ASan/TSan presets link this same uninstrumented library (its memory comes from malloc,
  # which the sanitizers intercept anyway). TEST_APPS for libsrtp's own self-tests, run below.
  cd "$src"/libsrtp2-*/
  patch -p1 -N < "$here/patches/native/libsrtp2-openssl-hmac-no-alloc.patch" >&2
  CC="$cc" cmake -S . -B build-native -G Ninja -DCMAKE_BUILD_TYPE="$build_type" -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DENABLE_OPENSSL=ON -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DTEST_APPS=ON
  cmake --build build-native -j"$jobs"
  # Crypto self-tests (AES-ICM, AES-GCM and HMAC-SHA1 known answers) and known SRTP packets; the
  # minute-long rtpw/replay/roc tests are not about the backend and are skipped.
  ctest --test-dir build-native --output-on-failure -R '^(cipher_driver|kernel_driver|srtp_driver|test_srtp)$'
  cmake --install build-native
}

build_usrsctp() {
  cd "$src"/libusrsctp-*/
  patch -p1 -N < "$here/patches/usrsctp-clock-hook.patch" >&2
  patch -p1 -N < "$here/patches/native/usrsctp-zone-cache.patch" >&2
  patch -p1 -N < "$here/patches/usrsctp-t3-restart.patch" >&2
  CC="$cc" cmake -S . -B build-native -G Ninja -DCMAKE_BUILD_TYPE="$build_type" -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON -Dsctp_build_programs=OFF -Dsctp_build_shared_lib=OFF \
    -Dsctp_werror=OFF -Dsctp_inet=OFF -Dsctp_inet6=OFF -DCMAKE_C_FLAGS="-Wno-address-of-packed-member"
  cmake --build build-native -j"$jobs"
  cmake --install build-native
}

build_mbedtls() {
  cd "$src"/mbedtls-*/
  # Debian's choices (debian/rules), so that only GCM and debug tracing differ from the libmbedtls-dev this
  # replaces.
  local option
  for option in MBEDTLS_DEPRECATED_WARNING MBEDTLS_HAVEGE_C MBEDTLS_MD2_C MBEDTLS_MD4_C MBEDTLS_THREADING_C \
                MBEDTLS_THREADING_PTHREAD MBEDTLS_CMAC_C MBEDTLS_SSL_DTLS_SRTP MBEDTLS_GCM_ALT; do
    python3 scripts/config.py set "$option"
  done
  python3 scripts/config.py unset MBEDTLS_DEBUG_C  # per-record tracing calls, and no callback to receive them
  cp "$here/patches/native/mbedtls-gcm-openssl/gcm_alt.h" include/mbedtls/
  cp "$here/patches/native/mbedtls-gcm-openssl/gcm_alt.c" library/
  sed -i 's/^    gcm\.c$/    gcm.c\n    gcm_alt.c/' library/CMakeLists.txt
  grep -q 'gcm_alt\.c' library/CMakeLists.txt || { log "could not add gcm_alt.c to mbedTLS's sources"; exit 1; }
  CC="$cc" cmake -S . -B build-native -G Ninja -DCMAKE_BUILD_TYPE="$build_type" -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=OFF \
    -DENABLE_PROGRAMS=OFF -DENABLE_TESTING=ON -DMBEDTLS_FATAL_WARNINGS=OFF \
    -DLINK_WITH_PTHREAD=ON -DCMAKE_C_STANDARD_LIBRARIES="-lcrypto"  # the test programs need OpenSSL after mbedTLS
  # The libraries, then only the test suites that exercise GCM (all of them would take minutes).
  local suites=(test_suite_gcm.aes128_en test_suite_gcm.aes128_de test_suite_gcm.aes192_en test_suite_gcm.aes192_de
                test_suite_gcm.aes256_en test_suite_gcm.aes256_de test_suite_gcm.misc test_suite_cipher.gcm)
  cmake --build build-native -j"$jobs" --target mbedtls mbedx509 mbedcrypto "${suites[@]}"
  # Every AES case must pass. The ALT is AES only: Camellia-GCM cases fail by design (setkey answers "feature
  # unsupported"; tandem's DTLS offers AES-GCM suites only), so test_suite_cipher.gcm's Camellia lines are
  # the only failures allowed.
  # Twice: on the AES-NI path (where the CPU has it) and on the EVP path (TANDEM_GCM_EVP=1, see gcm_alt.c).
  local t failed evp out
  if [ "$(uname -m)" = x86_64 ] && grep -qw aes /proc/cpuinfo; then
    log "GCM suites: first on the AES-NI path, then on the EVP path"
  else
    log "GCM suites: no AES-NI here, so both passes test the EVP path"
  fi
  for evp in 0 1; do
    for t in "${suites[@]}"; do
      # (Not `tee /dev/stderr`: reopening a log file that stderr points to would truncate it.)
      out=$(cd build-native/tests && TANDEM_GCM_EVP=$evp ./"$t" 2>&1 || true)
      printf '%s\n' "$out" >&2
      failed=$(printf '%s\n' "$out" | grep -E '\.\.+ FAILED$' | grep -v '^CAMELLIA' || true)
      [ -z "$failed" ] || { log "mbedTLS $t (TANDEM_GCM_EVP=$evp) failed: $failed"; exit 1; }
      printf '%s\n' "$out" | grep -qE '^(PASSED|FAILED) \(' ||
        { log "mbedTLS $t (TANDEM_GCM_EVP=$evp) ended without its summary line (crashed?)"; exit 1; }
    done
  done
  cmake --install build-native
}

timed build_srtp
timed build_usrsctp
timed build_mbedtls
echo "$versions" > "$prefix/VERSIONS"
touch "$prefix/.complete"
rm -rf "$src"
log "built: $prefix"
echo "$prefix"
