# Frame E2EE tests (the AsyncCrypto seam's own tests are in tests/platform/crypto/).
target_sources(tandem_tests PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/e2ee_test_support.cpp
  ${CMAKE_CURRENT_LIST_DIR}/mini_json.cpp
  ${CMAKE_CURRENT_LIST_DIR}/frame_format_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/key_ring_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/frame_cryptor_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/vectors_test.cpp)

# The cross-target vectors, compiled in (wasm tests have no access to the source tree's files).
set(_tandem_e2ee_vectors "${CMAKE_CURRENT_LIST_DIR}/../../../vectors/e2ee_frames.json")
if(EXISTS "${_tandem_e2ee_vectors}")
  file(READ "${_tandem_e2ee_vectors}" TANDEM_E2EE_VECTORS_JSON)
else()
  set(TANDEM_E2EE_VECTORS_JSON "{}")  # the vector tests then fail: generate the file (see vectors_test.cpp)
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_tandem_e2ee_vectors}")
configure_file("${CMAKE_CURRENT_LIST_DIR}/e2ee_vectors_json.cpp.in" "${CMAKE_CURRENT_BINARY_DIR}/e2ee_vectors_json.cpp"
               @ONLY)
target_sources(tandem_tests PRIVATE "${CMAKE_CURRENT_BINARY_DIR}/e2ee_vectors_json.cpp")

if(EMSCRIPTEN)
  # WebCrypto answers with promises, which settle only when the JS event loop turns; a test waiting for them
  # yields to it (e2ee_test_support.cpp), which needs Asyncify. The C libraries never call back into a test
  # that waits, so they are left uninstrumented: Asyncify's bookkeeping would only slow them down.
  set(_tandem_asyncify_remove "${CMAKE_CURRENT_BINARY_DIR}/tandem_asyncify_remove.txt")
  set(_tandem_uninstrumented mbedtls_* srtp_* sctp_* usrsctp_*)
  if(TARGET tandem::opus)
    list(APPEND _tandem_uninstrumented opus_* silk_* celt_*)
  endif()
  if(TARGET tandem::vpx)
    list(APPEND _tandem_uninstrumented vpx_* vp8_* vp8cx_* vp8dx_*)
  endif()
  list(JOIN _tandem_uninstrumented "\n" _tandem_uninstrumented)
  file(WRITE "${_tandem_asyncify_remove}" "${_tandem_uninstrumented}\n")
  target_link_options(tandem_tests PRIVATE -sASYNCIFY=1 -sASYNCIFY_STACK_SIZE=65536
                      "-sASYNCIFY_REMOVE=@${_tandem_asyncify_remove}")
endif()
