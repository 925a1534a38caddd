# The AsyncCrypto seam on the real platform and on the FakePlatform (waits through tests/core/media/e2ee's
# helpers, which also set up Asyncify for the wasm test binary).
target_sources(tandem_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/async_crypto_test.cpp)
