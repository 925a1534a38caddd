file(GLOB _dtls_sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/*.cpp")
target_sources(tandem_core PRIVATE ${_dtls_sources})
