file(GLOB _dtls_tests CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/*.cpp")
target_sources(tandem_tests PRIVATE ${_dtls_tests})
