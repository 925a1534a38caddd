# The libraries every build links, as imported targets with the same names on both targets:
#   tandem::protobuf_lite  tandem::mbedtls (tls + x509 + crypto)  tandem::srtp2  tandem::usrsctp
#   tandem::opus  tandem::vpx (the codecs; sources include <opus/opus.h> and <vpx/...>, which resolve on both)
# plus tandem::catch2 (header-only, v2 single header) for the tests.
#
# Native: Debian's -dev packages, except libsrtp2, usrsctp and mbedTLS, which scripts/build-native-deps.sh
# builds from Debian's source packages into a cached prefix (see tandem_native_deps below): Debian's libsrtp2
# is built on NSS, which allocates per packet; usrsctp needs a patch so that it reads the same clock its timers
# run on (scripts/patches/usrsctp-clock-hook.patch, also applied to the wasm build); mbedTLS's own AES-GCM is
# several times slower than OpenSSL's, so natively it runs on OpenSSL's.
# Wasm: static libraries cross-built from Debian's source packages by
# scripts/build-wasm-deps.sh into a cached prefix passed as TANDEM_WASM_DEPS (the wasm preset reads it from the
# environment variable of the same name).

function(tandem_import name)
  cmake_parse_arguments(ARG "" "" "LIBS;INCLUDES" ${ARGN})
  add_library(${name} INTERFACE IMPORTED GLOBAL)
  target_link_libraries(${name} INTERFACE ${ARG_LIBS})
  if(ARG_INCLUDES)
    target_include_directories(${name} SYSTEM INTERFACE ${ARG_INCLUDES})
  endif()
endfunction()

function(tandem_require_lib var name)
  find_library(${var} NAMES ${name} ${ARGN})
  if(NOT ${var})
    message(FATAL_ERROR "library ${name} not found (native: run scripts/setup.sh; wasm: scripts/build-wasm-deps.sh)")
  endif()
endfunction()

# The prefix of scripts/build-native-deps.sh: $ENV{TANDEM_NATIVE_DEPS} if set (a prefix of your own), else the
# script runs here, at configure time. It returns at once when its cached prefix is current, and CMake re-runs
# the configure step when the script or its patches change, so a build never links a stale library (unless
# TANDEM_NATIVE_DEPS pins a prefix).
function(tandem_native_deps out)
  set(_script "${PROJECT_SOURCE_DIR}/scripts/build-native-deps.sh")
  file(GLOB_RECURSE _patches "${PROJECT_SOURCE_DIR}/scripts/patches/native/*")
  list(APPEND _patches "${PROJECT_SOURCE_DIR}/scripts/patches/usrsctp-clock-hook.patch")
  set_property(DIRECTORY "${PROJECT_SOURCE_DIR}" APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_script}" ${_patches})
  set(_prefix "$ENV{TANDEM_NATIVE_DEPS}")
  if(NOT _prefix)
    message(STATUS "native deps: running scripts/build-native-deps.sh (cached after the first build)")
    execute_process(COMMAND bash "${_script}" OUTPUT_VARIABLE _out RESULT_VARIABLE _rc
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "scripts/build-native-deps.sh failed (exit ${_rc}); run it by hand to see why")
    endif()
    string(REGEX REPLACE ".*\n" "" _prefix "${_out}")  # the prefix is the last line
  endif()
  if(NOT EXISTS "${_prefix}/.complete")
    message(FATAL_ERROR "'${_prefix}' is not a finished build of scripts/build-native-deps.sh")
  endif()
  message(STATUS "native deps: ${_prefix}")
  # Compile and link lines name a copy in the build tree, not the keyed prefix: the include flag stays the same
  # when the prefix changes (which would recompile everything), and configure_file rewrites (and so dates) only
  # the files whose content changed, so exactly their users rebuild, also when going back to an older prefix.
  file(GLOB_RECURSE _files RELATIVE "${_prefix}" "${_prefix}/include/*" "${_prefix}/lib/*.a")
  foreach(_f IN LISTS _files)
    configure_file("${_prefix}/${_f}" "${CMAKE_BINARY_DIR}/native-deps/${_f}" COPYONLY)
  endforeach()
  set(${out} "${CMAKE_BINARY_DIR}/native-deps" PARENT_SCOPE)
endfunction()

# The host's protoc generates the code for both targets (same 3.21 version as the runtime libraries).
find_program(TANDEM_PROTOC protoc REQUIRED NO_CMAKE_FIND_ROOT_PATH)

if(EMSCRIPTEN)
  set(TANDEM_WASM_DEPS "$ENV{TANDEM_WASM_DEPS}" CACHE PATH "prefix made by scripts/build-wasm-deps.sh")
  if(NOT EXISTS "${TANDEM_WASM_DEPS}/.complete")
    message(FATAL_ERROR "TANDEM_WASM_DEPS='${TANDEM_WASM_DEPS}' is not a finished build of scripts/build-wasm-deps.sh")
  endif()
  set(_lib "${TANDEM_WASM_DEPS}/lib")
  set(_inc "${TANDEM_WASM_DEPS}/include")
  if(NOT EXISTS "${_lib}/libopus.a" OR NOT EXISTS "${_lib}/libvpx.a")
    message(FATAL_ERROR "TANDEM_WASM_DEPS='${TANDEM_WASM_DEPS}' predates the codecs: rerun scripts/build-wasm-deps.sh")
  endif()
  tandem_import(tandem::protobuf_lite LIBS "${_lib}/libprotobuf-lite.a" INCLUDES "${_inc}")
  tandem_import(tandem::mbedtls LIBS "${_lib}/libmbedtls.a" "${_lib}/libmbedx509.a" "${_lib}/libmbedcrypto.a"
                INCLUDES "${_inc}")
  tandem_import(tandem::srtp2 LIBS "${_lib}/libsrtp2.a" tandem::mbedtls INCLUDES "${_inc}")
  tandem_import(tandem::usrsctp LIBS "${_lib}/libusrsctp.a" INCLUDES "${_inc}")
  tandem_import(tandem::opus LIBS "${_lib}/libopus.a" INCLUDES "${_inc}")
  # VP8 only, realtime only. libvpx uses setjmp/longjmp (emscripten adds invoke_* glue) and needs more than
  # the default 16 MiB: executables that link it want -sALLOW_MEMORY_GROWTH=1.
  tandem_import(tandem::vpx LIBS "${_lib}/libvpx.a" INCLUDES "${_inc}")
  # Catch2 v2 is one header; copy it beside the build so emcc does not see the host's /usr/include.
  set(_catch_dir "${CMAKE_BINARY_DIR}/third_party/catch2")
  configure_file(/usr/include/catch2/catch.hpp "${_catch_dir}/catch2/catch.hpp" COPYONLY)
  tandem_import(tandem::catch2 INCLUDES "${_catch_dir}")
else()
  find_package(Threads REQUIRED)
  tandem_require_lib(TANDEM_PROTOBUF_LITE protobuf-lite)
  tandem_require_lib(TANDEM_OPUS opus)
  tandem_require_lib(TANDEM_VPX vpx)
  tandem_import(tandem::protobuf_lite LIBS ${TANDEM_PROTOBUF_LITE} Threads::Threads)
  # libsrtp2 2.5.0 on OpenSSL (AES-NI, SHA-NI; no heap allocation per packet), static and PIC. Its include
  # directory comes before /usr/include, where Debian's libsrtp2-dev may have the same headers.
  # --exclude-libs keeps libtandem.so from re-exporting libsrtp's symbols.
  # TANDEM_DEBIAN_SRTP2=ON links Debian's libsrtp2-1 (NSS) instead, only to compare (it needs libsrtp2-dev).
  option(TANDEM_DEBIAN_SRTP2 "link Debian's NSS-based libsrtp2 (slower, allocates per packet), for comparisons" OFF)
  tandem_native_deps(TANDEM_NATIVE_DEPS_PREFIX)
  find_package(OpenSSL 3 REQUIRED COMPONENTS Crypto)
  # mbedTLS 2.28.3 with AES-GCM on OpenSSL (MBEDTLS_GCM_ALT; scripts/patches/native/mbedtls-gcm-openssl/), static
  # and PIC. Its headers (config.h sets MBEDTLS_GCM_ALT, which changes mbedtls_gcm_context) come before
  # /usr/include, where Debian's libmbedtls-dev may have the same files with the stock configuration.
  set(_deps_lib "${TANDEM_NATIVE_DEPS_PREFIX}/lib")
  tandem_import(tandem::mbedtls LIBS "${_deps_lib}/libmbedtls.a" "${_deps_lib}/libmbedx509.a"
                "${_deps_lib}/libmbedcrypto.a" OpenSSL::Crypto Threads::Threads
                INCLUDES "${TANDEM_NATIVE_DEPS_PREFIX}/include")
  set_property(TARGET tandem::mbedtls APPEND PROPERTY INTERFACE_LINK_OPTIONS
               "LINKER:--exclude-libs,libmbedtls.a:libmbedx509.a:libmbedcrypto.a")
  if(TANDEM_DEBIAN_SRTP2)
    tandem_require_lib(TANDEM_SRTP2 srtp2)
    tandem_import(tandem::srtp2 LIBS ${TANDEM_SRTP2})
  else()
    tandem_import(tandem::srtp2 LIBS "${TANDEM_NATIVE_DEPS_PREFIX}/lib/libsrtp2.a" OpenSSL::Crypto
                  INCLUDES "${TANDEM_NATIVE_DEPS_PREFIX}/include")
    set_property(TARGET tandem::srtp2 APPEND PROPERTY INTERFACE_LINK_OPTIONS "LINKER:--exclude-libs,libsrtp2.a")
  endif()
  # usrsctp 0.9.5.0 with the clock hook, AF_CONN only, static and PIC; not re-exported by libtandem.so either.
  tandem_import(tandem::usrsctp LIBS "${TANDEM_NATIVE_DEPS_PREFIX}/lib/libusrsctp.a" Threads::Threads
                INCLUDES "${TANDEM_NATIVE_DEPS_PREFIX}/include")
  set_property(TARGET tandem::usrsctp APPEND PROPERTY INTERFACE_LINK_OPTIONS "LINKER:--exclude-libs,libusrsctp.a")
  tandem_import(tandem::opus LIBS ${TANDEM_OPUS})
  tandem_import(tandem::vpx LIBS ${TANDEM_VPX})
  if(NOT EXISTS /usr/include/catch2/catch.hpp)
    message(FATAL_ERROR "Catch2 v2 not found: apt-get install catch2 (scripts/setup.sh does)")
  endif()
  tandem_import(tandem::catch2)
endif()
