# Media through the API: two cores exchanging MEDIA_PACKETS events, both targets.
target_sources(tandem_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/media_api_test.cpp ${CMAKE_CURRENT_LIST_DIR}/media_c_api_test.cpp)
