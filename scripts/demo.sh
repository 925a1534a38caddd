#!/usr/bin/env bash
# Sets up, builds the wasm core and serves the demo page: two cores in two Web Workers stream a tone and a test
# pattern to each other over a MessageChannel (loss / jitter sliders, optional E2EE), and an overlay shows both
# cores' live latency histograms and media stats. Prints the URL; Ctrl-C stops the server.
#   scripts/demo.sh [--port N]      (default port 8080; the server listens on 127.0.0.1)
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=/usr/share/nodejs

bash scripts/setup.sh --no-browser
TANDEM_WASM_DEPS=$(bash scripts/build-wasm-deps.sh | tail -1)
export TANDEM_WASM_DEPS
cmake --preset wasm >/dev/null
cmake --build --preset wasm --target tandem_module
export TANDEM_CORE_DIR="$(pwd)/build/wasm/wasm"
exec node web-demo/serve.mjs "$@"
