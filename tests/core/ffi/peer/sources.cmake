target_sources(tandem_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/peer_api_test.cpp)
