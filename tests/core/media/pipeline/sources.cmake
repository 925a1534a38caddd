# Pipeline tests: each stream kind end to end without a session, then whole sessions over the simulated network.
file(GLOB _pipeline_tests CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/*_test.cpp" "${CMAKE_CURRENT_LIST_DIR}/*_support.cpp")
target_sources(tandem_tests PRIVATE ${_pipeline_tests})
