// im2col and col2im for convolution, gather form (one thread per output
// element, no atomics), with the layout of kernels/_im2col.py:
//
//   cols[n, c, i, j, oh, ow] = x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]
//                              (0 outside the image)
//
// col2im is its adjoint: each input pixel sums the cols entries that read it
// (Caffe im2col.cu col2im_gpu_kernel, dilation included). Plain layouts:
// x and dx (N, C, H, W), cols (N, C, kh, kw, Ho, Wo).

template <typename T>
__device__ __forceinline__ void im2col(
    const T* __restrict__ x, T* __restrict__ cols, long long total, int H,
    int W, int kh, int kw, int ho, int wo, int sh, int sw, int ph, int pw,
    int dh, int dw) {
  for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x;
       idx < total; idx += (long long)blockDim.x * gridDim.x) {
    const int ow = (int)(idx % wo);
    long long t = idx / wo;
    const int oh = (int)(t % ho);
    t /= ho;
    const int j = (int)(t % kw);
    t /= kw;
    const int i = (int)(t % kh);
    const long long nc = t / kh;
    const int h = oh * sh - ph + i * dh;
    const int w = ow * sw - pw + j * dw;
    cols[idx] = (h >= 0 && h < H && w >= 0 && w < W)
                    ? x[nc * H * W + (long long)h * W + w]
                    : T(0);
  }
}

template <typename T>
__device__ __forceinline__ void col2im(
    const T* __restrict__ cols, T* __restrict__ dx, long long total, int H,
    int W, int kh, int kw, int ho, int wo, int sh, int sw, int ph, int pw,
    int dh, int dw) {
  const long long plane = (long long)ho * wo;
  for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x;
       idx < total; idx += (long long)blockDim.x * gridDim.x) {
    const int hp = (int)((idx / W) % H) + ph;  // padded coordinates
    const int wp = (int)(idx % W) + pw;
    const long long nc = idx / ((long long)W * H);
    const T* base = cols + nc * kh * kw * plane;
    T acc = 0;
    for (int i = 0; i < kh; ++i) {
      const int hh = hp - i * dh;  // = oh*sh for the window that reads it
      if (hh < 0) break;           // i only grows
      if (hh % sh) continue;
      const int oh = hh / sh;
      if (oh >= ho) continue;
      for (int j = 0; j < kw; ++j) {
        const int ww = wp - j * dw;
        if (ww < 0) break;
        if (ww % sw) continue;
        const int ow = ww / sw;
        if (ow >= wo) continue;
        acc += base[(i * kw + j) * plane + (long long)oh * wo + ow];
      }
    }
    dx[idx] = acc;
  }
}

#define IM2COL_KERNELS(T, SUFFIX)                                              \
  extern "C" __global__ void im2col_##SUFFIX(                                  \
      const T* x, T* cols, long long total, int H, int W, int kh, int kw,      \
      int ho, int wo, int sh, int sw, int ph, int pw, int dh, int dw) {        \
    im2col<T>(x, cols, total, H, W, kh, kw, ho, wo, sh, sw, ph, pw, dh, dw);   \
  }                                                                            \
  extern "C" __global__ void col2im_##SUFFIX(                                  \
      const T* cols, T* dx, long long total, int H, int W, int kh, int kw,     \
      int ho, int wo, int sh, int sw, int ph, int pw, int dh, int dw) {        \
    col2im<T>(cols, dx, total, H, W, kh, kw, ho, wo, sh, sw, ph, pw, dh, dw);  \
  }

IM2COL_KERNELS(float, f32)
IM2COL_KERNELS(double, f64)
