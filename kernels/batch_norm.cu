// Batch normalization over x (N, C, P) (P: the positions of one channel plane), fused passes.
//
// mxlite/ops/_cuda_norm.py launches these for CuPy arrays (mxlite/ops/norm.py says what each
// pass computes; its *_reference functions are the NumPy/CuPy definitions):
//
//   bn_channel_sums<T>   per channel, S partial sums ("slots") of two quantities, in double:
//                        mode 0: sum(x)                       (the mean)
//                        mode 1: sum((x - center[c])^2)       (the biased variance)
//                        mode 2: sum(g'), sum(g' * (x - center[c]))   (the gradient sums)
//                        with g' = g * (y > 0) when a fused ReLU's output y is given (relu != 0).
//                        Block b of grid (C * B) works on channel b / B; its thread t is slot
//                        s = (b % B) * blockDim.x + t of S = B * blockDim.x and adds, in order,
//                        the elements (n, c, p) for n = 0..N-1 and p = s, s + S, ... < P.
//                        The host adds the S slots of each channel (partials (C, S, 2)).
//   bn_forward_apply<T>  y = x * scale[c] + shift[c] (then max(y, 0) when relu != 0)
//   bn_backward_apply<T> dx = g' * k1[c] + x * k2[c] + k3[c]
//                        Both: block b of grid (N * C) is plane b (channel b % C); its threads
//                        stride over the plane's P positions.
//
// Arithmetic is in A (float for float and __half, double for double), the parameters arrive in
// A, and every product and sum is rounded separately (compiled with --fmad=false), so the
// results are bitwise those of the NumPy formulas (tests/cuda_emu_batch_norm.py runs this file
// on the host and checks that). Sums are in double in slot order: deterministic for a launch
// shape. No shared memory, no atomics, no barriers.

#include <cuda_fp16.h>

typedef long long i64;

template <typename T> struct Acc { typedef float type; };
template <> struct Acc<double> { typedef double type; };

template <typename T>
__device__ __forceinline__ typename Acc<T>::type bn_load(const T* p, i64 i) {
    return static_cast<typename Acc<T>::type>(p[i]);
}
template <>
__device__ __forceinline__ float bn_load<__half>(const __half* p, i64 i) {
    return __half2float(p[i]);
}

template <typename T>
__device__ __forceinline__ T bn_store(typename Acc<T>::type v) {
    return static_cast<T>(v);
}
template <>
__device__ __forceinline__ __half bn_store<__half>(float v) {
    return __float2half_rn(v);
}

template <typename T>
__global__ void bn_channel_sums(const T* __restrict__ x,
                                const T* __restrict__ g,
                                const T* __restrict__ y,
                                const typename Acc<T>::type* __restrict__ center,
                                double* __restrict__ partials,
                                i64 n_batch,
                                int channels,
                                i64 plane,
                                int blocks_per_channel,
                                int mode,
                                int relu) {
    typedef typename Acc<T>::type A;
    const int c = blockIdx.x / blocks_per_channel;
    const i64 slots = static_cast<i64>(blocks_per_channel) * blockDim.x;
    const i64 s = static_cast<i64>(blockIdx.x % blocks_per_channel) * blockDim.x + threadIdx.x;
    const A mid = mode == 0 ? static_cast<A>(0) : center[c];
    double s1 = 0.0;
    double s2 = 0.0;
    for (i64 n = 0; n < n_batch; ++n) {
        const i64 base = (n * channels + c) * plane;
        for (i64 p = s; p < plane; p += slots) {
            const A xv = bn_load<T>(x, base + p);
            if (mode == 0) {
                s1 += static_cast<double>(xv);
            } else if (mode == 1) {
                const A d = xv - mid;
                s2 += static_cast<double>(d * d);
            } else {
                A gv = bn_load<T>(g, base + p);
                if (relu) gv = gv * static_cast<A>(bn_load<T>(y, base + p) > static_cast<A>(0));
                s1 += static_cast<double>(gv);
                s2 += static_cast<double>(gv * (xv - mid));
            }
        }
    }
    partials[(static_cast<i64>(c) * slots + s) * 2] = s1;
    partials[(static_cast<i64>(c) * slots + s) * 2 + 1] = s2;
}

template <typename T>
__global__ void bn_forward_apply(const T* __restrict__ x,
                                 const typename Acc<T>::type* __restrict__ scale,
                                 const typename Acc<T>::type* __restrict__ shift,
                                 T* __restrict__ out,
                                 int channels,
                                 i64 plane,
                                 int relu) {
    typedef typename Acc<T>::type A;
    const int c = blockIdx.x % channels;
    const i64 base = static_cast<i64>(blockIdx.x) * plane;
    const A a = scale[c];
    const A b = shift[c];
    for (i64 p = threadIdx.x; p < plane; p += blockDim.x) {
        A v = bn_load<T>(x, base + p) * a + b;
        if (relu && v < static_cast<A>(0)) v = static_cast<A>(0);  // NaN and -0 stay (np.maximum)
        out[base + p] = bn_store<T>(v);
    }
}

template <typename T>
__global__ void bn_backward_apply(const T* __restrict__ g,
                                  const T* __restrict__ x,
                                  const T* __restrict__ y,
                                  const typename Acc<T>::type* __restrict__ k1,
                                  const typename Acc<T>::type* __restrict__ k2,
                                  const typename Acc<T>::type* __restrict__ k3,
                                  T* __restrict__ out,
                                  int channels,
                                  i64 plane,
                                  int relu) {
    typedef typename Acc<T>::type A;
    const int c = blockIdx.x % channels;
    const i64 base = static_cast<i64>(blockIdx.x) * plane;
    const A a = k1[c];
    const A b = k2[c];
    const A d = k3[c];
    for (i64 p = threadIdx.x; p < plane; p += blockDim.x) {
        A gv = bn_load<T>(g, base + p);
        if (relu) gv = gv * static_cast<A>(bn_load<T>(y, base + p) > static_cast<A>(0));
        out[base + p] = bn_store<T>(gv * a + bn_load<T>(x, base + p) * b + d);
    }
}

#define MXLITE_BN_INSTANCES(T)                                                                  \
    template __global__ void bn_channel_sums<T>(const T*, const T*, const T*,                   \
                                                const Acc<T>::type*, double*, i64, int, i64,    \
                                                int, int, int);                                 \
    template __global__ void bn_forward_apply<T>(const T*, const Acc<T>::type*,                 \
                                                 const Acc<T>::type*, T*, int, i64, int);       \
    template __global__ void bn_backward_apply<T>(const T*, const T*, const T*,                 \
                                                  const Acc<T>::type*, const Acc<T>::type*,     \
                                                  const Acc<T>::type*, T*, int, i64, int);
MXLITE_BN_INSTANCES(float)
MXLITE_BN_INSTANCES(double)
MXLITE_BN_INSTANCES(__half)
