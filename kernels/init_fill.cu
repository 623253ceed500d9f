// Fill kernels for parameter initialization: uniform and normal draws from counter-based Philox
// streams, and constant fills at memset speed. Loaded by mxlite/ops/_cuda.py with cupy.RawModule
// (options -std=c++17 --fmad=false); the template kernels are instantiated through name_expressions
// for T in {float, double, mxlite::half_bits, mxlite::bfloat16_bits}.
//
// Every value is a pure function of (key, element index): element i of an array filled at stream
// offset `offset` is element j = offset + i of the stream, lane j % 4 of Philox block j / 4. One
// thread computes one Philox block and writes its (up to) 4 elements, vectorized when aligned.
// The formulas match mxlite/ops/_reference.py operation for operation, with explicit round-to-
// nearest intrinsics so that no multiply-add is fused: uniform draws are bit-identical to the CPU.
//
//   uniform float32: u = float(w >> 8) * 2^-24;  x = float(low) + float(high - low) * u   (float32)
//   uniform float64: u = ((w0 >> 5) * 2^26 + (w1 >> 6)) * 2^-53;  x = low + (high - low) * u
//   normal: Box-Muller on lane pairs (0,1), (2,3) in float64, rounded once to float32 (float64 kept)
//   float16 / bfloat16: the float32 value rounded to nearest even.
#include "philox.cuh"

namespace mxlite {

// Storage tags for 16-bit floats: the kernels write raw bits (no cuda_fp16.h needed under NVRTC).
struct half_bits {
  unsigned short x;
};
struct bfloat16_bits {
  unsigned short x;
};

constexpr int kUniform = 0;
constexpr int kNormal = 1;
// Philox blocks per work item of the multi-tensor kernels; mxlite/ops/_cuda.py uses the same value.
constexpr unsigned long long kChunkBlocks = 1024;
// Bytes per work item of the multi-tensor constant fill; mxlite/ops/_cuda.py uses the same value.
constexpr unsigned long long kConstChunkBytes = 65536;

// One row of the device-side table of a multi-tensor fill (56 bytes; numpy dtype in _cuda.py).
struct FillEntry {
  unsigned long long ptr;          // device address of element 0
  unsigned long long n;            // number of elements
  unsigned long long offset;       // stream offset of element 0
  unsigned long long chunk_start;  // index of this tensor's first work item
  unsigned int k0, k1;             // Philox key
  double p0, p1;                   // uniform: low, high - low; normal: loc, scale
};

// One row of the table of a multi-tensor constant fill (48 bytes).
struct ConstEntry {
  unsigned long long ptr;          // device address of element 0
  unsigned long long nbytes;       // bytes to write
  unsigned long long chunk_start;  // index of this tensor's first work item
  unsigned int pattern[4];         // the value's bytes repeated over 16 bytes
  unsigned int elem_size;          // 1, 2, 4 or 8
  unsigned int pad;
};

__device__ __forceinline__ unsigned long long umin64(unsigned long long a, unsigned long long b) {
  return a < b ? a : b;
}

// ------------------------------------------------------------------------------------- conversions
__device__ __forceinline__ float unit24(unsigned int w) {
  return __fmul_rn(__uint2float_rn(w >> 8), 5.9604644775390625e-08f);
}

// 27 high bits of hi and 26 of lo as one 53-bit integer, exactly, in a double.
__device__ __forceinline__ double m53(unsigned int hi, unsigned int lo) {
  return __dadd_rn(__dmul_rn(__uint2double_rn(hi >> 5), 67108864.0), __uint2double_rn(lo >> 6));
}

__device__ __forceinline__ void box_muller(double u1, double u2, double& z0, double& z1) {
  const double r = sqrt(__dmul_rn(-2.0, log(u1)));
  const double t = __dmul_rn(6.283185307179586, u2);
  double s, c;
  sincos(t, &s, &c);
  z0 = __dmul_rn(r, c);
  z1 = __dmul_rn(r, s);
}

// IEEE binary16 bits of a float32, rounded to nearest even (same integer algorithm as _cpu.py).
__device__ __forceinline__ unsigned short f32_to_f16_bits(float v) {
  const unsigned int f = __float_as_uint(v);
  const unsigned int sign = (f >> 16) & 0x8000u;
  const unsigned int a = f & 0x7FFFFFFFu;
  if (a >= 0x7F800000u) return static_cast<unsigned short>(sign | (a > 0x7F800000u ? 0x7E00u : 0x7C00u));
  if (a >= 0x477FF000u) return static_cast<unsigned short>(sign | 0x7C00u);
  unsigned int h, rem, halfway;
  if (a >= 0x38800000u) {
    const unsigned int v2 = a - 0x38000000u;
    h = v2 >> 13;
    rem = v2 & 0x1FFFu;
    halfway = 0x1000u;
  } else {
    if (a <= 0x33000000u) return static_cast<unsigned short>(sign);
    const unsigned int shift = 126u - (a >> 23);
    const unsigned int mant = (a & 0x7FFFFFu) | 0x800000u;
    h = mant >> shift;
    rem = mant & ((1u << shift) - 1u);
    halfway = 1u << (shift - 1u);
  }
  if (rem > halfway || (rem == halfway && (h & 1u))) ++h;
  return static_cast<unsigned short>(sign | h);
}

// bfloat16 bits of a float32, rounded to nearest even.
__device__ __forceinline__ unsigned short f32_to_bf16_bits(float v) {
  const unsigned int f = __float_as_uint(v);
  if ((f & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<unsigned short>((f >> 16) | 0x40u);
  return static_cast<unsigned short>((f + 0x7FFFu + ((f >> 16) & 1u)) >> 16);
}

// -------------------------------------------------------------------------------- storage traits
template <typename T>
struct Traits;

template <>
struct Traits<float> {
  typedef float store_t;
  typedef float value_t;
  static __device__ __forceinline__ float cvt(float v) { return v; }
};

template <>
struct Traits<double> {
  typedef double store_t;
  typedef double value_t;
  static __device__ __forceinline__ double cvt(double v) { return v; }
};

template <>
struct Traits<half_bits> {
  typedef unsigned short store_t;
  typedef float value_t;
  static __device__ __forceinline__ unsigned short cvt(float v) { return f32_to_f16_bits(v); }
};

template <>
struct Traits<bfloat16_bits> {
  typedef unsigned short store_t;
  typedef float value_t;
  static __device__ __forceinline__ unsigned short cvt(float v) { return f32_to_bf16_bits(v); }
};

// ---------------------------------------------------------------------------------- block values
template <int DIST>
__device__ __forceinline__ void values4(unsigned long long b, unsigned int k0, unsigned int k1, double p0, double p1,
                                        float v[4]) {
  const uint4 w = philox_block(b, 0u, k0, k1);
  if (DIST == kUniform) {
    const float lo = __double2float_rn(p0);
    const float sp = __double2float_rn(p1);
    v[0] = __fadd_rn(lo, __fmul_rn(sp, unit24(w.x)));
    v[1] = __fadd_rn(lo, __fmul_rn(sp, unit24(w.y)));
    v[2] = __fadd_rn(lo, __fmul_rn(sp, unit24(w.z)));
    v[3] = __fadd_rn(lo, __fmul_rn(sp, unit24(w.w)));
  } else {
    const double s32 = 2.3283064365386963e-10;
    double z0, z1, z2, z3;
    box_muller(__dmul_rn(__dadd_rn(__uint2double_rn(w.x), 1.0), s32), __dmul_rn(__uint2double_rn(w.y), s32), z0, z1);
    box_muller(__dmul_rn(__dadd_rn(__uint2double_rn(w.z), 1.0), s32), __dmul_rn(__uint2double_rn(w.w), s32), z2, z3);
    v[0] = __double2float_rn(__dadd_rn(p0, __dmul_rn(p1, z0)));
    v[1] = __double2float_rn(__dadd_rn(p0, __dmul_rn(p1, z1)));
    v[2] = __double2float_rn(__dadd_rn(p0, __dmul_rn(p1, z2)));
    v[3] = __double2float_rn(__dadd_rn(p0, __dmul_rn(p1, z3)));
  }
}

template <int DIST>
__device__ __forceinline__ void values4(unsigned long long b, unsigned int k0, unsigned int k1, double p0, double p1,
                                        double v[4]) {
  const uint4 h = philox_block(b, 0u, k0, k1);
  const uint4 l = philox_block(b, 1u, k0, k1);
  const double s53 = 1.1102230246251565e-16;
  const double m[4] = {m53(h.x, l.x), m53(h.y, l.y), m53(h.z, l.z), m53(h.w, l.w)};
  if (DIST == kUniform) {
#pragma unroll
    for (int lane = 0; lane < 4; ++lane) v[lane] = __dadd_rn(p0, __dmul_rn(p1, __dmul_rn(m[lane], s53)));
  } else {
    double z[4];
    box_muller(__dmul_rn(__dadd_rn(m[0], 1.0), s53), __dmul_rn(m[1], s53), z[0], z[1]);
    box_muller(__dmul_rn(__dadd_rn(m[2], 1.0), s53), __dmul_rn(m[3], s53), z[2], z[3]);
#pragma unroll
    for (int lane = 0; lane < 4; ++lane) v[lane] = __dadd_rn(p0, __dmul_rn(p1, z[lane]));
  }
}

// ------------------------------------------------------------------------------ aligned 4-stores
// 4 consecutive elements in one store: 16 bytes (float), 2 x 16 bytes (double), 8 bytes (16-bit).
// __stwb (st.global.wb, the default cache policy) keeps the stores vectorized even where the pointer
// comes from a table, which plain float4 assignments through a generic pointer did not.
template <typename S>
__device__ __forceinline__ bool aligned4(const S* p) {
  return (reinterpret_cast<unsigned long long>(p) & (sizeof(S) == 2 ? 7ull : 15ull)) == 0ull;
}

__device__ __forceinline__ void store4(float* p, const float s[4]) {
  __stwb(reinterpret_cast<float4*>(p), make_float4(s[0], s[1], s[2], s[3]));
}

__device__ __forceinline__ void store4(double* p, const double s[4]) {
  __stwb(reinterpret_cast<double2*>(p), make_double2(s[0], s[1]));
  __stwb(reinterpret_cast<double2*>(p) + 1, make_double2(s[2], s[3]));
}

__device__ __forceinline__ void store4(unsigned short* p, const unsigned short s[4]) {
  __stwb(reinterpret_cast<uint2*>(p), make_uint2(static_cast<unsigned int>(s[0]) | (static_cast<unsigned int>(s[1]) << 16),
                                                 static_cast<unsigned int>(s[2]) | (static_cast<unsigned int>(s[3]) << 16)));
}

// Compute Philox block b of the stream and write the elements of `out` (n elements, stream offset
// `offset`) that belong to it.
template <typename T, int DIST>
__device__ __forceinline__ void fill_block(typename Traits<T>::store_t* out, unsigned long long n,
                                           unsigned long long offset, unsigned long long b, unsigned int k0,
                                           unsigned int k1, double p0, double p1) {
  typedef typename Traits<T>::store_t S;
  typename Traits<T>::value_t v[4];
  values4<DIST>(b, k0, k1, p0, p1, v);
  S s[4];
#pragma unroll
  for (int lane = 0; lane < 4; ++lane) s[lane] = Traits<T>::cvt(v[lane]);
  const long long i0 = static_cast<long long>(4ull * b) - static_cast<long long>(offset);
  if (i0 >= 0 && i0 + 4 <= static_cast<long long>(n) && aligned4(out + i0)) {
    store4(out + i0, s);
  } else {
#pragma unroll
    for (int lane = 0; lane < 4; ++lane) {
      const long long i = i0 + lane;
      if (i >= 0 && i < static_cast<long long>(n)) out[i] = s[lane];
    }
  }
}

// Grid-stride loop over the Philox blocks of one array.
template <typename T, int DIST>
__device__ __forceinline__ void fill_grid(typename Traits<T>::store_t* out, unsigned long long n,
                                          unsigned long long offset, unsigned int k0, unsigned int k1, double p0,
                                          double p1) {
  const unsigned long long first = offset >> 2;
  const unsigned long long last = (offset + n + 3) >> 2;
  const unsigned long long stride = static_cast<unsigned long long>(gridDim.x) * blockDim.x;
  for (unsigned long long b = first + static_cast<unsigned long long>(blockIdx.x) * blockDim.x + threadIdx.x;
       b < last; b += stride) {
    fill_block<T, DIST>(out, n, offset, b, k0, k1, p0, p1);
  }
}

// Work items of a multi-tensor fill: CUDA block -> chunk c -> table row by binary search ->
// kChunkBlocks Philox blocks of that tensor, one per thread.
template <typename T, int DIST>
__device__ __forceinline__ void multi_fill(const FillEntry* table, int count, unsigned long long total_chunks) {
  typedef typename Traits<T>::store_t S;
  for (unsigned long long c = blockIdx.x; c < total_chunks; c += gridDim.x) {
    int lo = 0;
    int hi = count - 1;
    while (lo < hi) {
      const int mid = (lo + hi + 1) >> 1;
      if (table[mid].chunk_start <= c) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    const FillEntry e = table[lo];
    S* out = reinterpret_cast<S*>(e.ptr);
    const unsigned long long first = e.offset >> 2;
    const unsigned long long last = (e.offset + e.n + 3) >> 2;
    const unsigned long long b0 = first + (c - e.chunk_start) * kChunkBlocks;
    const unsigned long long b1 = umin64(b0 + kChunkBlocks, last);
    for (unsigned long long b = b0 + threadIdx.x; b < b1; b += blockDim.x) {
      fill_block<T, DIST>(out, e.n, e.offset, b, e.k0, e.k1, e.p0, e.p1);
    }
  }
}

// -------------------------------------------------------------------------------- constant fills
__device__ __forceinline__ unsigned char pattern_byte(const uint4& pat, unsigned long long k) {
  const unsigned int word = k < 4 ? pat.x : (k < 8 ? pat.y : (k < 12 ? pat.z : pat.w));
  return static_cast<unsigned char>(word >> (8 * (k & 3)));
}

// Bytes [r0, r1) of the array at `base` (elem-size aligned) get the value pattern: 16-byte stores on
// the aligned middle, single bytes on the unaligned edges. Threads tid, tid + nthreads, ... share it.
__device__ __forceinline__ void pattern_range(unsigned char* base, unsigned long long r0, unsigned long long r1,
                                              const uint4& pat, unsigned int elem_size, unsigned long long tid,
                                              unsigned long long nthreads) {
  const unsigned long long a0 = reinterpret_cast<unsigned long long>(base) + r0;
  const unsigned long long a1 = reinterpret_cast<unsigned long long>(base) + r1;
  unsigned long long v0 = (a0 + 15ull) & ~15ull;
  unsigned long long v1 = a1 & ~15ull;
  if (v0 >= v1) {
    v0 = a1;
    v1 = a1;
  }
  uint4* vp = reinterpret_cast<uint4*>(v0);
  const unsigned long long n16 = (v1 - v0) >> 4;
  for (unsigned long long i = tid; i < n16; i += nthreads) __stwb(vp + i, pat);
  for (unsigned long long i = r0 + tid; i < v0 - reinterpret_cast<unsigned long long>(base); i += nthreads) {
    base[i] = pattern_byte(pat, i % elem_size);
  }
  for (unsigned long long i = v1 - reinterpret_cast<unsigned long long>(base) + tid; i < r1; i += nthreads) {
    base[i] = pattern_byte(pat, i % elem_size);
  }
}

}  // namespace mxlite

// ===================================================================================== kernels
template <typename T>
__global__ void fill_uniform(typename mxlite::Traits<T>::store_t* out, unsigned long long n, unsigned long long offset,
                             unsigned int k0, unsigned int k1, double low, double span) {
  mxlite::fill_grid<T, mxlite::kUniform>(out, n, offset, k0, k1, low, span);
}

template <typename T>
__global__ void fill_normal(typename mxlite::Traits<T>::store_t* out, unsigned long long n, unsigned long long offset,
                            unsigned int k0, unsigned int k1, double loc, double scale) {
  mxlite::fill_grid<T, mxlite::kNormal>(out, n, offset, k0, k1, loc, scale);
}

template <typename T>
__global__ void multi_fill_uniform(const mxlite::FillEntry* table, int count, unsigned long long total_chunks) {
  mxlite::multi_fill<T, mxlite::kUniform>(table, count, total_chunks);
}

template <typename T>
__global__ void multi_fill_normal(const mxlite::FillEntry* table, int count, unsigned long long total_chunks) {
  mxlite::multi_fill<T, mxlite::kNormal>(table, count, total_chunks);
}

extern "C" __global__ void fill_pattern(unsigned char* base, unsigned long long nbytes, unsigned int w0,
                                        unsigned int w1, unsigned int w2, unsigned int w3, unsigned int elem_size) {
  const unsigned long long tid = static_cast<unsigned long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  const unsigned long long nthreads = static_cast<unsigned long long>(gridDim.x) * blockDim.x;
  mxlite::pattern_range(base, 0ull, nbytes, make_uint4(w0, w1, w2, w3), elem_size, tid, nthreads);
}

extern "C" __global__ void multi_fill_pattern(const mxlite::ConstEntry* table, int count,
                                              unsigned long long total_chunks) {
  for (unsigned long long c = blockIdx.x; c < total_chunks; c += gridDim.x) {
    int lo = 0;
    int hi = count - 1;
    while (lo < hi) {
      const int mid = (lo + hi + 1) >> 1;
      if (table[mid].chunk_start <= c) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    const mxlite::ConstEntry& e = table[lo];
    const unsigned long long r0 = (c - e.chunk_start) * mxlite::kConstChunkBytes;
    const unsigned long long r1 = mxlite::umin64(r0 + mxlite::kConstChunkBytes, e.nbytes);
    const uint4 pat = make_uint4(e.pattern[0], e.pattern[1], e.pattern[2], e.pattern[3]);
    mxlite::pattern_range(reinterpret_cast<unsigned char*>(e.ptr), r0, r1, pat, e.elem_size, threadIdx.x, blockDim.x);
  }
}

// Philox4x32-10 of n counters (uint32[n, 4]) under n keys (uint32[n, 2]): for the known-answer tests.
extern "C" __global__ void philox4x32_10_rows(const unsigned int* ctr, const unsigned int* key, unsigned int* out,
                                              unsigned long long n) {
  const unsigned long long stride = static_cast<unsigned long long>(gridDim.x) * blockDim.x;
  for (unsigned long long i = static_cast<unsigned long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const uint4 r = mxlite::philox4x32_10(make_uint4(ctr[4 * i], ctr[4 * i + 1], ctr[4 * i + 2], ctr[4 * i + 3]),
                                          key[2 * i], key[2 * i + 1]);
    out[4 * i] = r.x;
    out[4 * i + 1] = r.y;
    out[4 * i + 2] = r.z;
    out[4 * i + 3] = r.w;
  }
}

#ifdef MXLITE_KERNELS_CHECK
// Explicit instantiations so that `nvcc --ptx -DMXLITE_KERNELS_CHECK` compiles every template body
// (tools/check_kernels.sh); at run time NVRTC instantiates the same list through name_expressions.
#define MXLITE_INSTANTIATE(T)                                                                                          \
  template __global__ void fill_uniform<T>(mxlite::Traits<T>::store_t*, unsigned long long, unsigned long long,        \
                                           unsigned int, unsigned int, double, double);                               \
  template __global__ void fill_normal<T>(mxlite::Traits<T>::store_t*, unsigned long long, unsigned long long,         \
                                          unsigned int, unsigned int, double, double);                                \
  template __global__ void multi_fill_uniform<T>(const mxlite::FillEntry*, int, unsigned long long);                   \
  template __global__ void multi_fill_normal<T>(const mxlite::FillEntry*, int, unsigned long long);
MXLITE_INSTANTIATE(float)
MXLITE_INSTANTIATE(double)
MXLITE_INSTANTIATE(mxlite::half_bits)
MXLITE_INSTANTIATE(mxlite::bfloat16_bits)
#undef MXLITE_INSTANTIATE
#endif
