// ReLU backward with Caffe's negative_slope, from the saved output (the mask
// of kernels/relu.py): dx = y > 0 ? dy : dy * slope. One thread per element.
// A slope of 0 gives dy * 0, exactly what the xp path computes.

template <typename T>
__device__ __forceinline__ void relu_backward(const T* __restrict__ dy,
                                              const T* __restrict__ y,
                                              T* __restrict__ dx,
                                              long long total, T slope) {
  for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x;
       idx < total; idx += (long long)blockDim.x * gridDim.x) {
    const T g = dy[idx];
    dx[idx] = y[idx] > T(0) ? g : g * slope;
  }
}

#define RELU_KERNELS(T, SUFFIX)                                                \
  extern "C" __global__ void relu_backward_##SUFFIX(                           \
      const T* dy, const T* y, T* dx, long long total, T slope) {              \
    relu_backward<T>(dy, y, dx, total, slope);                                 \
  }

RELU_KERNELS(float, f32)
RELU_KERNELS(double, f64)
