target_sources(tandem_tests PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/nack_tracker_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/audio_jitter_buffer_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/video_frame_assembler_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/video_recovery_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unwrap_test.cpp)
