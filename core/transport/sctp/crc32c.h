// The SCTP checksum (CRC32c, RFC 9260 appendix A), computed by us rather than by usrsctp: usrsctp runs with
// its "CRC32c offload" on (it neither computes nor checks one), and we compute it once per outgoing packet and
// check it only where DTLS does not already authenticate the packet.
//
// On x86-64 CPUs with SSE4.2 the crc32 instruction does 8 bytes per step; elsewhere (wasm, other CPUs) a
// table-driven slicing-by-8 loop does (usrsctp's method). usrsctp's own code was 6-7 % of a native data
// channel transfer's CPU. Figures: bench/bench_sctp_checksum (bench/RESULTS.md).
#pragma once

#include <cstdint>
#include <span>

namespace tandem::transport::detail {

// The checksum of an SCTP packet as its common header stores it (bytes 8..11, in the byte order a
// little-endian load of those bytes gives), computed as if those four bytes were zero (RFC 9260 appendix A),
// so a received packet is checked without a copy. Packets shorter than 12 bytes have none: returns 0.
uint32_t sctp_checksum(std::span<const uint8_t> packet);

// The plain CRC32c of `bytes` (initial value and final complement included), for tests against known values.
uint32_t crc32c(std::span<const uint8_t> bytes);

// True when the crc32 instruction is in use (reported in benchmarks).
bool crc32c_hardware();

}  // namespace tandem::transport::detail
