#!/usr/bin/env bash
# Cross-builds the C/C++ dependencies of tandem (mbedTLS, libsrtp2, usrsctp, protobuf-lite, and the codecs
# libopus and libvpx) to static wasm32 libraries from Debian's *source* packages, with Debian's emscripten.
#
# Output: a prefix with include/ and lib/ under $TANDEM_CACHE (default ~/.cache/tandem). The prefix is named
# by a key hashed from this script, the patch, the source package versions and the emcc version, so a change
# to any of them gives a fresh build and an unchanged tree reuses the cache. Prints the prefix path as the
# last line of stdout; everything else goes to stderr.
#
# Traps of Debian's emscripten 3.1.6 with node 20 that this script handles (see docs/building.md):
#   1. emcc needs NODE_PATH=/usr/share/nodejs to find acorn.
#   2. Its Emscripten.cmake runs try_run() checks through `node --experimental-wasm-threads`, which node 20
#      refuses with exit code 9, so every check silently "returns" 9. We pass our own emulator.
#   3. Generated JS under node 20 must run with --no-experimental-fetch (only matters for the emulator here).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${TANDEM_CACHE:-$HOME/.cache/tandem}
jobs=${JOBS:-$(nproc)}
build_type=${WASM_DEPS_BUILD_TYPE:-Release}
packages=(mbedtls libsrtp2 libusrsctp protobuf opus libvpx)
log() { echo "[wasm-deps] $*" >&2; }

export NODE_PATH=/usr/share/nodejs

# deb-src entries are needed for `apt-get source`; add them once, mirroring the binary sources.
ensure_deb_src() {
  if apt-get source --download-only --print-uris mbedtls >/dev/null 2>&1; then return; fi
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
emcc_version=$(emcc --version 2>/dev/null | sed -n 1p)
key=$(cat "$0" "$here/patches/"*.patch | { cat; echo "$versions|$emcc_version|$build_type"; } | sha256sum | cut -c1-16)
prefix="$cache/wasm-deps/$key"
if [ -f "$prefix/.complete" ]; then
  log "cached: $prefix"
  echo "$prefix"
  exit 0
fi

# Parallel builds of one tree (several work trees, CI, a developer) must not wipe each other's half-built
# prefix: one build per key at a time, and whoever waited finds the finished prefix.
mkdir -p "$cache/wasm-deps"
exec 9>"$cache/wasm-deps/$key.lock"
if ! flock -n 9; then
  log "another build of $key is running; waiting for it"
  flock 9
fi
if [ -f "$prefix/.complete" ]; then
  log "cached (built meanwhile): $prefix"
  echo "$prefix"
  exit 0
fi

src="$cache/wasm-deps/src-$key"
rm -rf "$src" "$prefix"
mkdir -p "$src"
cd "$src"
log "fetching source packages: $versions"
apt-get source --download-only "${packages[@]}" >&2
for d in ./*.dsc; do dpkg-source --no-check -x "$d" >&2; done   # applies Debian's own patches too

emulator="-DCMAKE_CROSSCOMPILING_EMULATOR=/usr/bin/node;--no-experimental-fetch"
common=(-DCMAKE_BUILD_TYPE="$build_type" -DCMAKE_INSTALL_PREFIX="$prefix" "$emulator" -G Ninja)
timed() { local t=$SECONDS; "$@" >&2; log "$1 took $((SECONDS - t)) s"; }

build_mbedtls() {
  cd "$src"/mbedtls-*/
  python3 scripts/config.py set MBEDTLS_SSL_DTLS_SRTP   # off in upstream's default config; WebRTC needs it
  emcmake cmake -S . -B build-wasm "${common[@]}" -DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF \
    -DUSE_SHARED_MBEDTLS_LIBRARY=OFF -DUSE_STATIC_MBEDTLS_LIBRARY=ON
  cmake --build build-wasm -j"$jobs" && cmake --install build-wasm
}
build_srtp() {
  # mbedTLS backend: gives AES-CM and AES-GCM (the builtin backend has no GCM). find_library only searches
  # emscripten's sysroot, so the mbedTLS paths are passed explicitly.
  cd "$src"/libsrtp2-*/
  emcmake cmake -S . -B build-wasm "${common[@]}" -DEMSCRIPTEN_SYSTEM_PROCESSOR=wasm32 \
    -DENABLE_MBEDTLS=ON -DMBEDTLS_INCLUDE_DIRS="$prefix/include" \
    -DMBEDTLS_LIBRARY="$prefix/lib/libmbedtls.a" -DMBEDX509_LIBRARY="$prefix/lib/libmbedx509.a" \
    -DMBEDCRYPTO_LIBRARY="$prefix/lib/libmbedcrypto.a" -DTEST_APPS=OFF -DBUILD_SHARED_LIBS=OFF
  cmake --build build-wasm -j"$jobs" && cmake --install build-wasm
}
build_usrsctp() {
  # AF_CONN only (no kernel-style sockets in a browser); pthread.h is only included for pthread builds of
  # emscripten upstream, but usrsctp's mutex typedefs need it always, hence -include.
  cd "$src"/libusrsctp-*/
  patch -p1 -N < "$here/patches/usrsctp-emscripten-no-ifn-mtu.patch" >&2
  patch -p1 -N < "$here/patches/usrsctp-clock-hook.patch" >&2   # shared with the native build (see there)
  patch -p1 -N < "$here/patches/usrsctp-emscripten-getentropy.patch" >&2   # no /dev/urandom without a file system
  patch -p1 -N < "$here/patches/usrsctp-t3-restart.patch" >&2   # shared with the native build (see there)
  emcmake cmake -S . -B build-wasm "${common[@]}" -DCMAKE_C_FLAGS="-D_GNU_SOURCE -include pthread.h" \
    -Dsctp_build_programs=OFF -Dsctp_build_shared_lib=OFF -Dsctp_werror=OFF -Dsctp_inet=OFF -Dsctp_inet6=OFF
  cmake --build build-wasm -j"$jobs" && cmake --install build-wasm
}
build_protobuf_lite() {
  # Only the lite runtime; the host's protoc (same 3.21 version) generates the code.
  cd "$src"/protobuf-*/
  emcmake cmake -S . -B build-wasm "${common[@]}" -Dprotobuf_BUILD_TESTS=OFF \
    -Dprotobuf_BUILD_PROTOC_BINARIES=OFF -Dprotobuf_BUILD_LIBPROTOC=OFF -Dprotobuf_WITH_ZLIB=OFF \
    -Dprotobuf_BUILD_SHARED_LIBS=OFF
  cmake --build build-wasm --target libprotobuf-lite -j"$jobs"
  cmake --install build-wasm --component libprotobuf-lite
  cmake --install build-wasm --component protobuf-headers
}

# The codecs are autotools / libvpx's own configure, not CMake. Both are plain C and single-threaded here: no
# runtime CPU detection (wasm has one instruction set), no assembly, no intrinsics, no threads.
case "$build_type" in   # opus's configure default is -O2; follow the CMake build type like the others
  MinSizeRel) opus_opt=-Os ;;
  Debug) opus_opt="-O0 -g" ;;
  *) opus_opt=-O2 ;;
esac
build_opus() {
  cd "$src"/opus-*/
  # --host: the tarball's 2017 config.sub rejects *-emscripten; wasm32-unknown-none is accepted and, being a
  # cross build, stops configure from trying to run the test programs it compiles.
  emconfigure ./configure --host=wasm32-unknown-none --prefix="$prefix" CFLAGS="$opus_opt" \
    --enable-static --disable-shared --disable-intrinsics --disable-rtcd --disable-asm \
    --disable-stack-protector --disable-doc --disable-extra-programs \
    --disable-maintainer-mode --disable-dependency-tracking
  emmake make -j"$jobs"
  emmake make install
}
build_vpx() {
  # VP8 only, realtime only (what a call uses; smaller than the full encoder), out of tree.
  # STRIP=llvm-strip: emconfigure leaves STRIP unset, and GNU strip cannot read wasm objects: it silently
  # rewrites libvpx.a without an archive index and make still exits 0. The index check below catches that.
  # Optimisation: libvpx's configure picks its own (-O3), as Debian's native build does.
  cd "$src"/libvpx-*/
  mkdir -p build-wasm && cd build-wasm
  STRIP=llvm-strip emconfigure ../configure --target=generic-gnu --prefix="$prefix" \
    --disable-vp9 --enable-vp8 --enable-realtime-only --disable-multithread --disable-runtime-cpu-detect \
    --enable-static --disable-shared --disable-examples --disable-tools --disable-docs --disable-unit-tests \
    --disable-install-bins --disable-webm-io --disable-libyuv
  emmake make -j"$jobs"
  emmake make install
  # grep -c, not grep -q: under pipefail, grep -q's early exit kills llvm-nm with SIGPIPE and fails the check.
  local indexed
  indexed=$(llvm-nm --print-armap "$prefix/lib/libvpx.a" 2>/dev/null | grep -c '^Archive map' || true)
  if [ "$indexed" = 0 ]; then
    log "libvpx.a has no archive index (was it stripped by GNU strip?)"
    return 1
  fi
}

timed build_mbedtls
timed build_srtp
timed build_usrsctp
timed build_protobuf_lite
timed build_opus
timed build_vpx
echo "$versions" > "$prefix/VERSIONS"
touch "$prefix/.complete"
rm -rf "$src"
log "built: $prefix"
echo "$prefix"
