file(GLOB _stun_sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/*.cpp")
target_sources(tandem_core PRIVATE ${_stun_sources})
