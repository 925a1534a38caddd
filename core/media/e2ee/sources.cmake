# Frame end-to-end encryption (AES-GCM over the platform's AsyncCrypto, HKDF-SHA256 key ratchet).
target_sources(tandem_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/frame_format.cpp
  ${CMAKE_CURRENT_LIST_DIR}/key_ring.cpp
  ${CMAKE_CURRENT_LIST_DIR}/frame_cryptor.cpp)
