target_sources(tandem_tests PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/g711_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/opus_payload_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/opus_codec_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/vp8_payload_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/vp8_codec_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/codec_golden_test.cpp)
