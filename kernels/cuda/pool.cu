// Max pooling forward (with argmax) and backward, gather form.
//
// Semantics of Caffe pooling_layer.cu (MaxPoolForward / MaxPoolBackward) and
// of the reference in kernels/pool.py: window (p, q) of an (N, C, H, W) input
// starts at (p*sh - ph, q*sw - pw); only pixels inside the image take part
// (padding never wins); ties go to the first maximum in raster order; a window
// wholly past the image gives -FLT_MAX (Caffe's initial value, for float and
// double alike) and routes no gradient.
//
// Plain NCHW layouts: x and dx (N, C, H, W), y, dy and argmax (N, C, oh, ow).
// argmax holds the offset inside the *unclipped* window, (h - hs)*kw + (w - ws),
// the code the reference stores, and 0 for an empty window as there (offset 0
// of an empty window is no image pixel). Backward gives each input pixel the
// sum of dy over the windows whose argmax is that pixel: one thread per input
// element, no atomics.
//
// Compiled at run time by CuPy (NVRTC: no standard headers) and checked with
// `nvcc -std=c++14 -arch=sm_90 -c` by .ci/run and tests/kernels.

#define CAFFE_LOWEST (-3.402823466e+38f)

template <typename T>
__device__ __forceinline__ void max_pool_forward(
    const T* __restrict__ x, T* __restrict__ y, int* __restrict__ argmax,
    long long total, int H, int W, int oh, int ow, int kh, int kw,
    int sh, int sw, int ph, int pw) {
  for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x;
       idx < total; idx += (long long)blockDim.x * gridDim.x) {
    const int q = (int)(idx % ow);
    const int p = (int)((idx / ow) % oh);
    const long long nc = idx / ((long long)ow * oh);
    const int hs = p * sh - ph;
    const int ws = q * sw - pw;
    const int h0 = max(hs, 0), w0 = max(ws, 0);
    const int h1 = min(hs + kh, H), w1 = min(ws + kw, W);
    const T* plane = x + nc * H * W;
    T best = (T)CAFFE_LOWEST;
    int arg = -1;
    for (int h = h0; h < h1; ++h) {
      for (int w = w0; w < w1; ++w) {
        const T v = plane[h * W + w];
        // strict >: the first maximum in raster order keeps the argmax
        if (arg < 0 || v > best) {
          best = v;
          arg = (h - hs) * kw + (w - ws);
        }
      }
    }
    y[idx] = best;
    argmax[idx] = arg < 0 ? 0 : arg;
  }
}

template <typename T>
__device__ __forceinline__ void max_pool_backward(
    const T* __restrict__ dy, const int* __restrict__ argmax, T* __restrict__ dx,
    long long total, int H, int W, int oh, int ow, int kh, int kw,
    int sh, int sw, int ph, int pw) {
  for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x;
       idx < total; idx += (long long)blockDim.x * gridDim.x) {
    const int hp = (int)((idx / W) % H) + ph;  // row in padded coordinates
    const int wp = (int)(idx % W) + pw;
    const long long nc = idx / ((long long)W * H);
    // windows p with p*sh <= hp <= p*sh + kh - 1 (Caffe's MaxPoolBackward)
    const int p0 = hp < kh ? 0 : (hp - kh) / sh + 1;
    const int p1 = min(hp / sh + 1, oh);
    const int q0 = wp < kw ? 0 : (wp - kw) / sw + 1;
    const int q1 = min(wp / sw + 1, ow);
    const T* g = dy + nc * oh * ow;
    const int* a = argmax + nc * oh * ow;
    T acc = 0;
    for (int p = p0; p < p1; ++p) {
      for (int q = q0; q < q1; ++q) {
        if (a[p * ow + q] == (hp - p * sh) * kw + (wp - q * sw)) {
          acc += g[p * ow + q];
        }
      }
    }
    dx[idx] = acc;
  }
}

#define POOL_KERNELS(T, SUFFIX)                                                \
  extern "C" __global__ void max_pool_forward_##SUFFIX(                        \
      const T* x, T* y, int* argmax, long long total, int H, int W, int oh,    \
      int ow, int kh, int kw, int sh, int sw, int ph, int pw) {                \
    max_pool_forward<T>(x, y, argmax, total, H, W, oh, ow, kh, kw, sh, sw, ph, \
                        pw);                                                   \
  }                                                                            \
  extern "C" __global__ void max_pool_backward_##SUFFIX(                       \
      const T* dy, const int* argmax, T* dx, long long total, int H, int W,    \
      int oh, int ow, int kh, int kw, int sh, int sw, int ph, int pw) {        \
    max_pool_backward<T>(dy, argmax, dx, total, H, W, oh, ow, kh, kw, sh, sw,  \
                         ph, pw);                                              \
  }

POOL_KERNELS(float, f32)
POOL_KERNELS(double, f64)
