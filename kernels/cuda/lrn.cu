// Local response normalisation across channels, forward and backward, fused:
// one thread per output element sums its channel window itself (no
// intermediate arrays, no atomics). Caffe lrn_layer.cu semantics and the same
// operation order as the xp code in kernels/lrn.py:
//
//   scale[c]  = k + alpha/n * sum_{j = c-before .. c+after} x[j]^2  (0 outside)
//   factor[c] = scale[c]^-beta   (1/(sqrt(s)*sqrt(sqrt(s))) for beta = 0.75)
//   y[c]      = x[c] * factor[c]
//   dx[c]     = dy[c]*factor[c]
//               - 2*alpha*beta/n * x[c] * sum_{j = c-after .. c+before}
//                                        dy[j]*x[j]*factor[j]/scale[j]
//
// (forward window before = (n-1)/2, after = n/2; the backward sum runs over
// the adjoint window, the Python side passes its bounds.) Layout NCHW,
// contiguous; `hw` is H*W, the stride between channels.

// Explicit float/double overloads: no reliance on the math-header overload
// set, which differs between nvcc and NVRTC.
__device__ __forceinline__ float root(float v) { return sqrtf(v); }
__device__ __forceinline__ double root(double v) { return sqrt(v); }
__device__ __forceinline__ float power(float v, float e) { return powf(v, e); }
__device__ __forceinline__ double power(double v, double e) { return pow(v, e); }

template <typename T>
__device__ __forceinline__ T neg_pow(T s, T beta, int beta_is_075) {
  if (beta_is_075) {  // s**-0.75 as the xp path computes it
    const T r = root(s);
    return T(1) / (r * root(r));
  }
  return power(s, -beta);
}

template <typename T>
__device__ __forceinline__ void lrn_forward(
    const T* __restrict__ x, T* __restrict__ y, T* __restrict__ scale,
    T* __restrict__ factor, long long total, int C, long long hw, int before,
    int after, T alpha_over_n, T k, T beta, int beta_is_075) {
  for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x;
       idx < total; idx += (long long)blockDim.x * gridDim.x) {
    const int c = (int)((idx / hw) % C);
    const T* col = x + (idx - (long long)c * hw);  // channel 0, same pixel
    const T xc = col[c * hw];
    // the xp order: centre, then c-1, c-2, ..., then c+1, c+2, ...
    T s = xc * xc;
    for (int d = 1; d <= before && c - d >= 0; ++d) {
      const T v = col[(c - d) * hw];
      s += v * v;
    }
    for (int d = 1; d <= after && c + d < C; ++d) {
      const T v = col[(c + d) * hw];
      s += v * v;
    }
    s = s * alpha_over_n;
    s = s + k;
    const T f = neg_pow(s, beta, beta_is_075);
    scale[idx] = s;
    factor[idx] = f;
    y[idx] = xc * f;
  }
}

template <typename T>
__device__ __forceinline__ T lrn_ratio(const T* dy, const T* x, const T* scale,
                                       const T* factor, long long i) {
  return dy[i] * x[i] * factor[i] / scale[i];
}

template <typename T>
__device__ __forceinline__ void lrn_backward(
    const T* __restrict__ dy, const T* __restrict__ x,
    const T* __restrict__ scale, const T* __restrict__ factor,
    T* __restrict__ dx, long long total, int C, long long hw, int before,
    int after, T coef) {
  for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x;
       idx < total; idx += (long long)blockDim.x * gridDim.x) {
    const int c = (int)((idx / hw) % C);
    T acc = lrn_ratio(dy, x, scale, factor, idx);
    for (int d = 1; d <= before && c - d >= 0; ++d) {
      acc += lrn_ratio(dy, x, scale, factor, idx - d * hw);
    }
    for (int d = 1; d <= after && c + d < C; ++d) {
      acc += lrn_ratio(dy, x, scale, factor, idx + d * hw);
    }
    acc = acc * x[idx];
    acc = acc * coef;
    dx[idx] = dy[idx] * factor[idx] - acc;
  }
}

#define LRN_KERNELS(T, SUFFIX)                                                 \
  extern "C" __global__ void lrn_forward_##SUFFIX(                             \
      const T* x, T* y, T* scale, T* factor, long long total, int C,           \
      long long hw, int before, int after, T alpha_over_n, T k, T beta,        \
      int beta_is_075) {                                                       \
    lrn_forward<T>(x, y, scale, factor, total, C, hw, before, after,           \
                   alpha_over_n, k, beta, beta_is_075);                        \
  }                                                                            \
  extern "C" __global__ void lrn_backward_##SUFFIX(                            \
      const T* dy, const T* x, const T* scale, const T* factor, T* dx,         \
      long long total, int C, long long hw, int before, int after, T coef) {   \
    lrn_backward<T>(dy, x, scale, factor, dx, total, C, hw, before, after,     \
                    coef);                                                     \
  }

LRN_KERNELS(float, f32)
LRN_KERNELS(double, f64)
