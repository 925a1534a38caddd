# RTP/RTCP: packet formats, NACK history, reception statistics.
target_sources(tandem_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/rtp_packet.cpp
  ${CMAKE_CURRENT_LIST_DIR}/rtcp.cpp
  ${CMAKE_CURRENT_LIST_DIR}/send_history.cpp
  ${CMAKE_CURRENT_LIST_DIR}/receiver_stats.cpp)
