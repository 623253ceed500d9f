// Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw, "Parallel random
// numbers: as easy as 1, 2, 3" (SC'11), as in Random123's philox4x32_10.
//
// Known answers (tests/test_philox.py checks them on every backend):
//   counter 0 0 0 0,                          key 0 0                 -> 6627e8d5 e169c58d bc57ac4c 9b00dbd8
//   counter 243f6a88 85a308d3 13198a2e 03707344, key a4093822 299f31d0 -> d16cfe09 94fdcceb 5001e420 24126ea1
//   counter ffffffff x4,                      key ffffffff x2         -> 408f276d 41c83b0e a20bc7c6 6d5451fd
//
// Included textually by mxlite/ops/_cuda.py (NVRTC gets no include path), so no other includes here.
#ifndef MXLITE_PHILOX_CUH_
#define MXLITE_PHILOX_CUH_

namespace mxlite {

// Ten rounds under key (k0, k1); the key is bumped by the Weyl constants between rounds.
__device__ __forceinline__ uint4 philox4x32_10(uint4 ctr, unsigned int k0, unsigned int k1) {
#pragma unroll
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const unsigned int lo0 = 0xD2511F53u * ctr.x;
    const unsigned int hi0 = __umulhi(0xD2511F53u, ctr.x);
    const unsigned int lo1 = 0xCD9E8D57u * ctr.z;
    const unsigned int hi1 = __umulhi(0xCD9E8D57u, ctr.z);
    ctr = make_uint4(hi1 ^ ctr.y ^ k0, lo1, hi0 ^ ctr.w ^ k1, lo0);
  }
  return ctr;
}

// The 4 words of Philox block `block` of a stream on `plane`: counter (block lo, block hi, plane, 0).
// Element j of a stream is lane j % 4 of block j / 4; plane 1 holds the extra bits of float64 draws.
__device__ __forceinline__ uint4 philox_block(unsigned long long block, unsigned int plane, unsigned int k0,
                                              unsigned int k1) {
  return philox4x32_10(make_uint4(static_cast<unsigned int>(block), static_cast<unsigned int>(block >> 32), plane, 0u),
                       k0, k1);
}

}  // namespace mxlite

#endif  // MXLITE_PHILOX_CUH_
