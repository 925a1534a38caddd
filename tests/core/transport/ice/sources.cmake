file(GLOB _ice_tests CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/*.cpp")
target_sources(tandem_tests PRIVATE ${_ice_tests})
