# The libraries every build links, as imported targets with the same names on both targets:
#   tandem::protobuf_lite  tandem::mbedtls (tls + x509 + crypto)  tandem::srtp2  tandem::usrsctp
#   tandem::opus  tandem::vpx (the codecs; sources include <opus/opus.h> and <vpx/...>, which resolve on both)
# plus tandem::catch2 (header-only, v2 single header) for the tests.
#
# Native: Debian's -dev packages. Wasm: static libraries cross-built from Debian's source packages by
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
  tandem_require_lib(TANDEM_MBEDTLS mbedtls)
  tandem_require_lib(TANDEM_MBEDX509 mbedx509)
  tandem_require_lib(TANDEM_MBEDCRYPTO mbedcrypto)
  tandem_require_lib(TANDEM_SRTP2 srtp2)
  tandem_require_lib(TANDEM_USRSCTP usrsctp)
  tandem_require_lib(TANDEM_OPUS opus)
  tandem_require_lib(TANDEM_VPX vpx)
  tandem_import(tandem::protobuf_lite LIBS ${TANDEM_PROTOBUF_LITE} Threads::Threads)
  tandem_import(tandem::mbedtls LIBS ${TANDEM_MBEDTLS} ${TANDEM_MBEDX509} ${TANDEM_MBEDCRYPTO})
  tandem_import(tandem::srtp2 LIBS ${TANDEM_SRTP2})
  tandem_import(tandem::usrsctp LIBS ${TANDEM_USRSCTP} Threads::Threads)
  tandem_import(tandem::opus LIBS ${TANDEM_OPUS})
  tandem_import(tandem::vpx LIBS ${TANDEM_VPX})
  if(NOT EXISTS /usr/include/catch2/catch.hpp)
    message(FATAL_ERROR "Catch2 v2 not found: apt-get install catch2 (scripts/setup.sh does)")
  endif()
  tandem_import(tandem::catch2)
endif()
