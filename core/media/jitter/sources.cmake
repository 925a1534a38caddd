# Jitter buffers, frame assembly and NACK scheduling: input is a parsed MediaPacket, no RTP dependency.
target_sources(tandem_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/audio_jitter_buffer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/video_frame_assembler.cpp
  ${CMAKE_CURRENT_LIST_DIR}/nack_tracker.cpp)
