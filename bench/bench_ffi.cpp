// FFI ping round trip through the C ABI (tandem_initialize / tandem_request), on whichever target this is.
// (The wasm worker boundary — postMessage to the worker and back — is measured by bench/js/worker_ping.mjs.)
//   ffi_ping/c_abi_preencoded_8B   the same encoded PingRequest (8-byte payload) every call, response not
//                                  decoded: the cost inside the ABI (parse into the per-thread arena, dispatch,
//                                  serialize, time into ffi_request{kind=ping})
//   ffi_ping/c_abi_roundtrip_8B    what a host does: encode a PingRequest with a fresh sent_ns into a reused
//                                  string, call, decode the FfiResponse into a reused message, check the echo
//   ffi_ping/c_abi_preencoded_64B  like the first with a 64-byte payload, longer than the 15-byte small-string
//                                  buffer: protobuf 3.21 gives arena strings heap storage, so the request's
//                                  payload and the response's copy of it allocate (see the allocs/op column)
//   ffi_ping/c_abi_roundtrip_64B   the host loop with the 64-byte payload
#include <cstdio>
#include <cstdlib>
#include <string>

#include "harness.h"
#include "proto/tandem.pb.h"
#include "tandem/tandem.h"

namespace tandem::bench {
namespace {

std::string encode_ping(size_t payload_bytes, uint64_t sent_ns) {
  api::FfiRequest req;
  req.mutable_ping()->set_payload(std::string(payload_bytes, 'p'));
  req.mutable_ping()->set_sent_ns(sent_ns);
  return req.SerializeAsString();
}

void run_ffi_suite(Harness& h) {
  // No periodic report: a timer firing mid-run would land in one batch's time.
  api::InitializeOptions options;
  options.set_metrics_report_disabled(true);
  const std::string options_bytes = options.SerializeAsString();
  tandem_core* core = nullptr;
  const int rc = tandem_initialize(nullptr, nullptr, reinterpret_cast<const uint8_t*>(options_bytes.data()),
                                   options_bytes.size(), &core);
  if (rc != TANDEM_OK) {
    std::fprintf(stderr, "tandem_initialize failed: %s\n", tandem_error_name(rc));
    std::abort();
  }

  for (size_t payload_bytes : {size_t{8}, size_t{64}}) {
    const std::string suffix = std::string("_").append(std::to_string(payload_bytes)).append("B");
    const std::string pre = encode_ping(payload_bytes, 42);
    h.run({"ffi_ping", "c_abi_preencoded" + suffix, [&](uint64_t n) {
             for (uint64_t i = 0; i < n; ++i) {
               const uint8_t* out = nullptr;
               size_t len = 0;
               keep(tandem_request(core, reinterpret_cast<const uint8_t*>(pre.data()), pre.size(), &out, &len));
               keep(out);
             }
           }});

    // The host side keeps its messages and buffer across calls, as a real binding would.
    api::FfiRequest req;
    req.mutable_ping()->set_payload(std::string(payload_bytes, 'p'));
    api::FfiResponse resp;
    std::string bytes;
    uint64_t mismatches = 0;
    h.run({"ffi_ping", "c_abi_roundtrip" + suffix, [&](uint64_t n) {
             for (uint64_t i = 0; i < n; ++i) {
               const uint64_t sent = now_ns();
               req.mutable_ping()->set_sent_ns(sent);
               req.SerializeToString(&bytes);
               const uint8_t* out = nullptr;
               size_t len = 0;
               tandem_request(core, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &out, &len);
               if (!resp.ParseFromArray(out, static_cast<int>(len)) || resp.ping().sent_ns() != sent) ++mismatches;
             }
           }});
    if (mismatches != 0) {
      std::fprintf(stderr, "ffi_ping: %llu responses did not echo sent_ns\n",
                   static_cast<unsigned long long>(mismatches));
      std::abort();
    }
  }
  tandem_dispose(core);
}

const Suite kSuite(40, "ffi", run_ffi_suite);

}  // namespace
}  // namespace tandem::bench
