// Multi-tensor kernels: one launch over many buffers described by a device-side table.
//
// The table splits every buffer into chunks; block b works on chunk b:
//   chunk_buf[b]   index of the buffer the chunk belongs to
//   chunk_begin[b] first element (or byte) of the chunk inside that buffer
// so a launch's grid is exactly the number of chunks, large and small buffers mix freely, and
// no block searches for its buffer. The host builds the table once per set of buffers and
// caches it (mxlite/ops/multi_tensor.py).
//
// Compiled by CuPy (RawModule, name_expressions pick the template instances) and compile-checked
// with nvcc by tools/check_kernels.sh.

#include <cuda_fp16.h>

typedef unsigned long long u64;
typedef long long i64;

// ---------------------------------------------------------------------------------------------
// multi_zero: set every byte of every buffer to zero. Works on bytes, so one launch serves all
// dtypes of a context. The aligned middle of each chunk is written 16 bytes at a time.
// ---------------------------------------------------------------------------------------------
extern "C" __global__ void multi_zero_bytes(const u64* __restrict__ ptrs,
                                            const i64* __restrict__ nbytes,
                                            const int* __restrict__ chunk_buf,
                                            const i64* __restrict__ chunk_begin,
                                            i64 chunk_bytes) {
    const int buf = chunk_buf[blockIdx.x];
    const i64 begin = chunk_begin[blockIdx.x];
    const i64 end = min(begin + chunk_bytes, nbytes[buf]);
    unsigned char* base = reinterpret_cast<unsigned char*>(ptrs[buf]);

    // Head and tail bytes outside 16-byte alignment.
    const u64 addr_begin = reinterpret_cast<u64>(base + begin);
    const i64 head = min(static_cast<i64>((16 - (addr_begin & 15)) & 15), end - begin);
    const i64 body_begin = begin + head;
    const i64 body_words = (end - body_begin) / 16;
    const i64 body_end = body_begin + body_words * 16;

    for (i64 i = begin + threadIdx.x; i < body_begin; i += blockDim.x) base[i] = 0;
    uint4* body = reinterpret_cast<uint4*>(base + body_begin);
    const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
    for (i64 i = threadIdx.x; i < body_words; i += blockDim.x) body[i] = zero;
    for (i64 i = body_end + threadIdx.x; i < end; i += blockDim.x) base[i] = 0;
}

// ---------------------------------------------------------------------------------------------
// multi_average: out[t][i] = (in[t][0][i] + ... + in[t][k-1][i]) / k, summed in fixed replica
// order in float (double for double) and divided by k (as MXNet's add_n(...) / k), so the result does not depend on the launch layout.
// in_ptrs holds k pointers per buffer (buffer-major). out may alias in[t][0].
// CuPy compiles every RawModule with -ftz=true (appended after our options), so float32
// subnormal inputs and sums flush to zero here, unlike the host path; double is unaffected.
// ---------------------------------------------------------------------------------------------
template <typename T> struct Acc { typedef float type; };
template <> struct Acc<double> { typedef double type; };

template <typename T>
__device__ __forceinline__ typename Acc<T>::type load_acc(const T* p, i64 i) {
    return static_cast<typename Acc<T>::type>(p[i]);
}
template <>
__device__ __forceinline__ float load_acc<__half>(const __half* p, i64 i) {
    return __half2float(p[i]);
}

template <typename T>
__device__ __forceinline__ T store_cast(typename Acc<T>::type v) {
    return static_cast<T>(v);
}
template <>
__device__ __forceinline__ __half store_cast<__half>(float v) {
    return __float2half_rn(v);
}

__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float div_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double div_rn(double a, double b) { return __ddiv_rn(a, b); }

template <typename T>
__global__ void multi_average(const u64* __restrict__ in_ptrs,
                              const u64* __restrict__ out_ptrs,
                              const i64* __restrict__ numel,
                              const int* __restrict__ chunk_buf,
                              const i64* __restrict__ chunk_begin,
                              i64 chunk_elems,
                              int k) {
    typedef typename Acc<T>::type A;
    const int buf = chunk_buf[blockIdx.x];
    const i64 begin = chunk_begin[blockIdx.x];
    const i64 end = min(begin + chunk_elems, numel[buf]);
    T* out = reinterpret_cast<T*>(out_ptrs[buf]);
    const u64* ins = in_ptrs + static_cast<i64>(buf) * k;
    const A denom = static_cast<A>(k);
    for (i64 i = begin + threadIdx.x; i < end; i += blockDim.x) {
        A sum = load_acc<T>(reinterpret_cast<const T*>(ins[0]), i);
        for (int r = 1; r < k; ++r) {
            sum = add_rn(sum, load_acc<T>(reinterpret_cast<const T*>(ins[r]), i));
        }
        out[i] = store_cast<T>(div_rn(sum, denom));
    }
}

template __global__ void multi_average<float>(const u64*, const u64*, const i64*, const int*,
                                              const i64*, i64, int);
template __global__ void multi_average<double>(const u64*, const u64*, const i64*, const int*,
                                               const i64*, i64, int);
template __global__ void multi_average<__half>(const u64*, const u64*, const i64*, const int*,
                                               const i64*, i64, int);
