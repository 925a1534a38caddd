# Audio and video codecs: G.711 (our own, table-driven), Opus over libopus, VP8 over libvpx, and the RTP
# payload formats of Opus (RFC 7587) and VP8 (RFC 7741).
target_sources(tandem_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/g711.cpp
  ${CMAKE_CURRENT_LIST_DIR}/opus_payload.cpp
  ${CMAKE_CURRENT_LIST_DIR}/opus_codec.cpp
  ${CMAKE_CURRENT_LIST_DIR}/vp8_payload.cpp
  ${CMAKE_CURRENT_LIST_DIR}/vp8_codec.cpp)
target_link_libraries(tandem_core PUBLIC tandem::opus tandem::vpx)
