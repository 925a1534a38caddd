// The wasm platform (implements platform::create_host for the Emscripten target).
#pragma once

namespace tandem::platform {

// Runs every task that is ready now and every timer that is due, on the calling thread. The worker's event
// loop does this by itself (see library_tandem.js); tests call it to turn the loop while they block it.
void wasm_run_pending();

}  // namespace tandem::platform
