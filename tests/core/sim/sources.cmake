target_sources(tandem_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/network_test.cpp)
