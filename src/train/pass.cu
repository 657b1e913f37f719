// The fused engine's full pass on a CUDA GPU: X is read once, each row's score, logistic loss and
// gradient computed while the row is in registers. Compiled at run time by NVRTC with D (features)
// fixed, so each lane's columns and the row loop unroll. Mirrors fused.rs: loss in the stable logits
// form max(z, 0) - y z + log1p(e^-|z|), gradient (sigmoid(z) - y) x, summed without dividing by n.
//
// D: features; K = ceil(D / 32): the columns lane l holds (l, l + 32, ...); R: rows in flight per
// warp (more bytes in flight per multiprocessor, fewer registers as K grows).
#ifndef D
#error "compile with -DD=<features>"
#endif
#define K ((D + 31) / 32)
#define R (K <= 4 ? 4 : (K <= 8 ? 2 : 1))
#define FULL 0xffffffffu

// Each warp walks rows r0, r0 + R·warps, ... and writes its sums to column j of `partial`
// (j < D: weight gradient, D: bias gradient, D + 1: loss), laid out column-major with one entry
// per warp of the grid, so the reduction below reads each column contiguously.
extern "C" __global__ void __launch_bounds__(256) logreg_pass(
    const float* __restrict__ x, const float* __restrict__ y, long long n, const float* __restrict__ wb,
    double* __restrict__ partial) {
    const int lane = threadIdx.x & 31;
    const long long warps = (long long)gridDim.x * (blockDim.x >> 5);
    const long long warp = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    float w[K], g[K];
#pragma unroll
    for (int k = 0; k < K; ++k) {
        const int c = lane + 32 * k;
        w[k] = c < D ? wb[c] : 0.0f;
        g[k] = 0.0f;
    }
    const float b = wb[D];
    float gb = 0.0f, loss = 0.0f;
    for (long long r0 = warp * R; r0 < n; r0 += warps * R) {
        float v[R][K], z[R];
        // All loads of the R rows first, so they are in flight together.
#pragma unroll
        for (int r = 0; r < R; ++r) {
            const long long row = r0 + r;
            const float* xr = x + row * D;
#pragma unroll
            for (int k = 0; k < K; ++k) {
                const int c = lane + 32 * k;
                v[r][k] = (row < n && c < D) ? __ldg(xr + c) : 0.0f;
            }
        }
#pragma unroll
        for (int r = 0; r < R; ++r) {
            float s = 0.0f;
#pragma unroll
            for (int k = 0; k < K; ++k) s = fmaf(v[r][k], w[k], s);
            // Butterfly: every lane ends with the same bits of the row's dot product.
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(FULL, s, o);
            z[r] = s + b;
        }
#pragma unroll
        for (int r = 0; r < R; ++r) {
            const long long row = r0 + r;
            if (row < n) {
                const float t = y[row], zr = z[r];
                const float e = expf(-fabsf(zr));
                // sigmoid(z) from e = exp(-|z|) without overflow on either side.
                const float p = zr >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
                const float d = p - t;
                loss += fmaxf(zr, 0.0f) - t * zr + log1pf(e);
                gb += d;
#pragma unroll
                for (int k = 0; k < K; ++k) g[k] = fmaf(d, v[r][k], g[k]);
            }
        }
    }
#pragma unroll
    for (int k = 0; k < K; ++k) {
        const int c = lane + 32 * k;
        if (c < D) partial[c * warps + warp] = (double)g[k];
    }
    if (lane == 0) {
        partial[D * warps + warp] = (double)gb;
        partial[(D + 1) * warps + warp] = (double)loss;
    }
}

// Block j sums column j of `partial` over the `warps` entries, in a fixed order (strided per
// thread, then a tree), so the result does not depend on timing.
extern "C" __global__ void __launch_bounds__(256) logreg_reduce(
    const double* __restrict__ partial, long long warps, double* __restrict__ sums) {
    __shared__ double s[256];
    const double* col = partial + blockIdx.x * warps;
    double acc = 0.0;
    for (long long i = threadIdx.x; i < warps; i += blockDim.x) acc += col[i];
    s[threadIdx.x] = acc;
    __syncthreads();
    for (int h = blockDim.x / 2; h > 0; h >>= 1) {
        if (threadIdx.x < h) s[threadIdx.x] += s[threadIdx.x + h];
        __syncthreads();
    }
    if (threadIdx.x == 0) sums[blockIdx.x] = s[0];
}
