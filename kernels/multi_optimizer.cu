// Multi-tensor optimizer steps: SGD (momentum), NAG and Adam over many tensors in one launch.
//
// The launch walks the chunk table of kernels/multi_tensor.cu: block b updates chunk b, the
// elements [chunk_begin[b], chunk_begin[b] + chunk) of buffer chunk_buf[b]. Per buffer the host
// passes 5 addresses (ptrs[5 * buf + slot]) and 3 coefficients (coef[3 * buf + j]):
//   slot 0 weight (W), 1 grad (W), 2 state 0 (S: momentum / Adam mean), 3 state 1 (S: Adam var),
//   4 float32 master weight (multi-precision only; the math then runs on it and the float16
//   weight receives its rounded copy).
//
// Numerics are those of the NumPy single-tensor path in mxlite/optimizer (sgd.py, adam.py),
// bit for bit: every scalar is the NumPy value of that path (cast to the master dtype on the
// host), every operation is one IEEE operation rounded to nearest (__fmul_rn, ..., no FMA
// contraction), in NumPy's order. float16 without a master copy computes each operation in
// float32 and rounds it to float16, which is what NumPy's float16 loops do (and equals native
// float16 arithmetic: float32 has more than 2 * 11 + 2 bits).
//
// Coefficients per family (C: float for float16/float32 masters, double for float64):
//   SGD   coef = (lr, lr * rescale, lr * wd)     p0 = momentum
//   NAG   coef = (lr, lr * rescale, 1 - lr * wd) without momentum state,
//         coef = (lr, wd, -)                      with it; p0 = momentum, p1 = momentum + 1
//   Adam  coef = (lr_t, wd, -)                    p0 = beta1, p1 = 1 - beta1, p2 = beta2,
//                                                 p3 = 1 - beta2, p4 = epsilon
// rescale and clip are global; clipping (clip(x) = x > c ? c : (x < -c ? -c : x), NaN kept)
// happens only when `clipping` is nonzero.
//
// Compiled by CuPy (RawModule; name_expressions pick multi_sgd<W, S, MP>, ...) and checked with
// nvcc by tools/check_kernels.sh.

#include <cuda_fp16.h>

#ifndef __CUDACC_RTC__
#include <cstdint>
#endif

typedef long long i64;
typedef unsigned long long u64;

namespace mxopt {

enum Slot { kWeight = 0, kGrad = 1, kState0 = 2, kState1 = 3, kMaster = 4, kSlots = 5 };
enum Family { kSGD = 0, kNAG = 1, kAdam = 2 };

// ------------------------------------------------------------------------------------ arithmetic
// Math<S>: the compute type C of storage type S and its correctly rounded operations; for
// __half every result is rounded to float16 (NumPy's float16 loops).
template <typename S> struct Math;

template <> struct Math<float> {
    typedef float C;
    static __device__ __forceinline__ float q(float x) { return x; }
    static __device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
    static __device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }
    static __device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
    static __device__ __forceinline__ float div(float a, float b) { return __fdiv_rn(a, b); }
    static __device__ __forceinline__ float sqrt(float a) { return __fsqrt_rn(a); }
};

template <> struct Math<double> {
    typedef double C;
    static __device__ __forceinline__ double add(double a, double b) { return __dadd_rn(a, b); }
    static __device__ __forceinline__ double sub(double a, double b) { return __dsub_rn(a, b); }
    static __device__ __forceinline__ double mul(double a, double b) { return __dmul_rn(a, b); }
    static __device__ __forceinline__ double div(double a, double b) { return __ddiv_rn(a, b); }
    static __device__ __forceinline__ double sqrt(double a) { return __dsqrt_rn(a); }
};

template <> struct Math<__half> {
    typedef float C;
    static __device__ __forceinline__ float q(float x) { return __half2float(__float2half_rn(x)); }
    static __device__ __forceinline__ float add(float a, float b) { return q(__fadd_rn(a, b)); }
    static __device__ __forceinline__ float sub(float a, float b) { return q(__fsub_rn(a, b)); }
    static __device__ __forceinline__ float mul(float a, float b) { return q(__fmul_rn(a, b)); }
    static __device__ __forceinline__ float div(float a, float b) { return q(__fdiv_rn(a, b)); }
    static __device__ __forceinline__ float sqrt(float a) { return q(__fsqrt_rn(a)); }
};

template <typename C>
__device__ __forceinline__ C clip(C x, C c) {
    return x > c ? c : (x < -c ? -c : x);
}

// ------------------------------------------------------------------------------- loads / stores
__device__ __forceinline__ float to_c(float x) { return x; }
__device__ __forceinline__ double to_c(double x) { return x; }
__device__ __forceinline__ float to_c(__half x) { return __half2float(x); }

template <typename T> struct Store;
template <> struct Store<float> {
    static __device__ __forceinline__ float from_c(float x) { return x; }
};
template <> struct Store<double> {
    static __device__ __forceinline__ double from_c(double x) { return x; }
};
template <> struct Store<__half> {
    static __device__ __forceinline__ __half from_c(float x) { return __float2half_rn(x); }
};

// Four consecutive elements through 16-byte (float, double) or 8-byte (__half) accesses; the
// host enables this path only when every address of the launch is 16-byte aligned.
template <typename C>
__device__ __forceinline__ void load4(const float* p, C (&o)[4]) {
    const float4 v = *reinterpret_cast<const float4*>(p);
    o[0] = v.x; o[1] = v.y; o[2] = v.z; o[3] = v.w;
}
template <typename C>
__device__ __forceinline__ void load4(const double* p, C (&o)[4]) {
    const double2 a = reinterpret_cast<const double2*>(p)[0];
    const double2 b = reinterpret_cast<const double2*>(p)[1];
    o[0] = a.x; o[1] = a.y; o[2] = b.x; o[3] = b.y;
}
template <typename C>
__device__ __forceinline__ void load4(const __half* p, C (&o)[4]) {
    const uint2 v = *reinterpret_cast<const uint2*>(p);
    const __half2 a = *reinterpret_cast<const __half2*>(&v.x);
    const __half2 b = *reinterpret_cast<const __half2*>(&v.y);
    o[0] = __low2float(a); o[1] = __high2float(a); o[2] = __low2float(b); o[3] = __high2float(b);
}
template <typename C>
__device__ __forceinline__ void store4(float* p, const C (&v)[4]) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
}
template <typename C>
__device__ __forceinline__ void store4(double* p, const C (&v)[4]) {
    reinterpret_cast<double2*>(p)[0] = make_double2(v[0], v[1]);
    reinterpret_cast<double2*>(p)[1] = make_double2(v[2], v[3]);
}
template <typename C>
__device__ __forceinline__ void store4(__half* p, const C (&v)[4]) {
    __half2 a = __floats2half2_rn(v[0], v[1]);
    __half2 b = __floats2half2_rn(v[2], v[3]);
    uint2 u;
    u.x = *reinterpret_cast<unsigned int*>(&a);
    u.y = *reinterpret_cast<unsigned int*>(&b);
    *reinterpret_cast<uint2*>(p) = u;
}

// ------------------------------------------------------------------------------ update rules
// Scalars of one launch (C values, see the header comment).
template <typename C> struct Params {
    C rescale, clip, p0, p1, p2, p3, p4;
    int family, nstate, clipping;
};

// lr * clip(rescale * g), or (lr * rescale) * g unclipped: the single path's _scaled_grad.
template <typename S>
__device__ __forceinline__ typename Math<S>::C scaled_grad(typename Math<S>::C g,
                                                           const typename Math<S>::C* c,
                                                           const Params<typename Math<S>::C>& p) {
    typedef Math<S> M;
    if (p.clipping) return M::mul(clip(M::mul(g, p.rescale), p.clip), c[0]);
    return M::mul(g, c[1]);
}

// One element: w (master value), g (gradient), s0, s1 (states) updated in place.
template <typename S>
__device__ __forceinline__ void step(typename Math<S>::C& w, typename Math<S>::C g,
                                     typename Math<S>::C& s0, typename Math<S>::C& s1,
                                     const typename Math<S>::C* c,
                                     const Params<typename Math<S>::C>& p) {
    typedef Math<S> M;
    typedef typename M::C C;
    if (p.family == kSGD) {
        const C st = scaled_grad<S>(g, c, p);
        const C decay = M::mul(w, c[2]);
        if (p.nstate) {
            s0 = M::sub(M::sub(M::mul(s0, p.p0), decay), st);
            w = M::add(w, s0);
        } else {
            w = M::add(w, M::sub(-decay, st));
        }
    } else if (p.family == kNAG) {
        if (!p.nstate) {
            const C st = scaled_grad<S>(g, c, p);
            w = M::sub(M::mul(w, c[2]), st);
        } else {
            C term = M::mul(g, p.rescale);
            if (p.clipping) term = clip(term, p.clip);
            const C mom = M::mul(s0, p.p0);
            C inner = M::mul(M::add(term, M::mul(w, c[1])), c[0]);
            inner = M::mul(M::sub(mom, inner), p.p1);
            const C nw = M::add(M::sub(w, mom), inner);
            const C decay = M::mul(M::add(term, M::mul(nw, c[1])), c[0]);
            s0 = M::sub(mom, decay);
            w = nw;
        }
    } else {
        C gg = M::add(M::mul(g, p.rescale), M::mul(w, c[1]));
        if (p.clipping) gg = clip(gg, p.clip);
        s0 = M::add(M::mul(s0, p.p0), M::mul(gg, p.p1));
        s1 = M::add(M::mul(s1, p.p2), M::mul(M::mul(gg, p.p3), gg));
        const C denom = M::add(M::sqrt(s1), p.p4);
        w = M::sub(w, M::div(M::mul(s0, c[0]), denom));
    }
}

// ------------------------------------------------------------------------------ the launch
// W: weight and gradient storage; S: master and state storage; MP: a float32 master copy
// (slot 4) holds the weight and the W weight receives its rounded value.
template <typename W, typename S, bool MP>
__device__ __forceinline__ void run_chunk(const u64* __restrict__ ptrs,
                                          const i64* __restrict__ numel,
                                          const int* __restrict__ chunk_buf,
                                          const i64* __restrict__ chunk_begin, i64 chunk,
                                          const typename Math<S>::C* __restrict__ coef,
                                          const Params<typename Math<S>::C>& p, int vec) {
    typedef typename Math<S>::C C;
    const int buf = chunk_buf[blockIdx.x];
    const i64 begin = chunk_begin[blockIdx.x];
    const i64 end = min(begin + chunk, numel[buf]);
    const u64* slot = ptrs + static_cast<i64>(buf) * kSlots;
    W* weight = reinterpret_cast<W*>(slot[kWeight]);
    const W* grad = reinterpret_cast<const W*>(slot[kGrad]);
    S* st0 = reinterpret_cast<S*>(slot[kState0]);
    S* st1 = reinterpret_cast<S*>(slot[kState1]);
    S* master = MP ? reinterpret_cast<S*>(slot[kMaster]) : reinterpret_cast<S*>(weight);
    C c[3] = {coef[3 * buf], coef[3 * buf + 1], coef[3 * buf + 2]};
    const bool has0 = p.nstate > 0, has1 = p.nstate > 1;

    i64 first_scalar = begin;
    if (vec) {
        const i64 quads = (end - begin) >> 2;
        for (i64 j = threadIdx.x; j < quads; j += blockDim.x) {
            const i64 i = begin + 4 * j;
            C w[4], g[4], s0[4] = {0, 0, 0, 0}, s1[4] = {0, 0, 0, 0};
            load4(master + i, w);
            load4(grad + i, g);
            if (has0) load4(st0 + i, s0);
            if (has1) load4(st1 + i, s1);
#pragma unroll
            for (int k = 0; k < 4; ++k) step<S>(w[k], g[k], s0[k], s1[k], c, p);
            store4(master + i, w);
            if (MP) store4(weight + i, w);
            if (has0) store4(st0 + i, s0);
            if (has1) store4(st1 + i, s1);
        }
        first_scalar = begin + 4 * quads;
    }
    for (i64 i = first_scalar + threadIdx.x; i < end; i += blockDim.x) {
        C w = to_c(master[i]);
        C s0 = has0 ? to_c(st0[i]) : C(0);
        C s1 = has1 ? to_c(st1[i]) : C(0);
        step<S>(w, to_c(grad[i]), s0, s1, c, p);
        master[i] = Store<S>::from_c(w);
        if (MP) weight[i] = Store<W>::from_c(w);
        if (has0) st0[i] = Store<S>::from_c(s0);
        if (has1) st1[i] = Store<S>::from_c(s1);
    }
}

}  // namespace mxopt

// One kernel for the three families (the family is a launch argument, uniform per launch).
template <typename W, typename S, bool MP>
__global__ void multi_optimizer_step(const u64* __restrict__ ptrs, const i64* __restrict__ numel,
                                     const int* __restrict__ chunk_buf,
                                     const i64* __restrict__ chunk_begin, i64 chunk,
                                     const typename mxopt::Math<S>::C* __restrict__ coef,
                                     typename mxopt::Math<S>::C rescale,
                                     typename mxopt::Math<S>::C clip,
                                     typename mxopt::Math<S>::C p0, typename mxopt::Math<S>::C p1,
                                     typename mxopt::Math<S>::C p2, typename mxopt::Math<S>::C p3,
                                     typename mxopt::Math<S>::C p4, int family, int nstate,
                                     int clipping, int vec) {
    mxopt::Params<typename mxopt::Math<S>::C> p;
    p.rescale = rescale;
    p.clip = clip;
    p.p0 = p0;
    p.p1 = p1;
    p.p2 = p2;
    p.p3 = p3;
    p.p4 = p4;
    p.family = family;
    p.nstate = nstate;
    p.clipping = clipping;
    mxopt::run_chunk<W, S, MP>(ptrs, numel, chunk_buf, chunk_begin, chunk, coef, p, vec);
}

#define MXOPT_INSTANTIATE(W, S, MP, C)                                                          \
    template __global__ void multi_optimizer_step<W, S, MP>(                                    \
        const u64*, const i64*, const int*, const i64*, i64, const C*, C, C, C, C, C, C, C, int, \
        int, int, int);

MXOPT_INSTANTIATE(float, float, false, float)
MXOPT_INSTANTIATE(double, double, false, double)
MXOPT_INSTANTIATE(__half, __half, false, float)
MXOPT_INSTANTIATE(__half, float, true, float)
