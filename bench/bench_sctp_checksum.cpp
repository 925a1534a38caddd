// The SCTP packet checksum (CRC32c) that tandem computes for usrsctp (core/transport/sctp/crc32c.h), next to
// usrsctp's own usrsctp_crc32c() on the same packet in the same run:
//   sctp_checksum/<size>/tandem   our checksum (natively the SSE4.2 crc32 instruction when the CPU has it,
//                                 otherwise and in wasm slicing-by-8), field counted as zero without a copy
//   sctp_checksum/<size>/usrsctp  usrsctp_crc32c() over the packet (slicing-by-8), the code it replaced
// 1200 bytes is a full data channel packet (SCTP packets of 1160-1200 bytes under DTLS), 100 a SACK.
#include <usrsctp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/transport/sctp/crc32c.h"
#include "harness.h"

namespace tandem::bench {
namespace {

void run_checksum_suite(Harness& h) {
  for (const size_t size : {size_t{100}, size_t{1200}}) {
    std::vector<uint8_t> packet(size);
    for (size_t i = 0; i < size; ++i) packet[i] = static_cast<uint8_t>(i * 29 + 7);
    const std::string variant = std::to_string(size) + "B/";
    uint32_t sum = 0;
    h.run({"sctp_checksum", variant + (transport::detail::crc32c_hardware() ? "tandem_sse42" : "tandem_sb8"),
           [&](uint64_t n) {
             for (uint64_t i = 0; i < n; ++i) {
               packet[0] = static_cast<uint8_t>(i);  // a different packet each time
               sum += transport::detail::sctp_checksum(packet);
             }
             keep(sum);
           }});
    h.run({"sctp_checksum", variant + "usrsctp", [&](uint64_t n) {
             for (uint64_t i = 0; i < n; ++i) {
               packet[0] = static_cast<uint8_t>(i);
               sum += usrsctp_crc32c(packet.data(), packet.size());
             }
             keep(sum);
           }});
  }
}

const Suite kSuite(74, "sctp_checksum", run_checksum_suite);

}  // namespace
}  // namespace tandem::bench
