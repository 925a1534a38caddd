target_sources(tandem_tests PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/rtp_packet_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/rtp_fuzz_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/rtcp_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/send_history_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/receiver_stats_test.cpp)
