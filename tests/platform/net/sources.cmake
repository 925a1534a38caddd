target_sources(tandem_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/datagram_transport_test.cpp)
