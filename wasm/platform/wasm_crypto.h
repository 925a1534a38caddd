// AsyncCrypto for the wasm module: WebCrypto (crypto.subtle) when the JS environment has it, else mbedTLS
// compiled into the module (the same code as natively, without AES-NI).
#pragma once

#include <memory>

#include "tandem/platform/crypto.h"
#include "tandem/platform/platform.h"

namespace tandem::platform {

// Picks WebCrypto when globalThis.crypto.subtle exists, unless the environment forces the fallback:
// TANDEM_WASM_CRYPTO=mbedtls in node's environment, or globalThis.TANDEM_WASM_CRYPTO = 'mbedtls' in a page.
// Completions are delivered by tasks of `runner`, which must stop running (or be cleared) before the
// returned object is destroyed.
std::unique_ptr<AsyncCrypto> create_wasm_crypto(TaskRunner& runner);

}  // namespace tandem::platform
