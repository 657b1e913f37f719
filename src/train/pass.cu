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

// The tiled pass, for D a multiple of 4 up to TILED_MAX (one lane per row for the arithmetic):
// a block copies TR = 32 consecutive rows (contiguous in X) into shared memory with 16-byte
// loads, the next tile's loads already in flight while this one is computed. Lane r of warp w
// then sums the float4 columns w, w + 8, ... of row r (no shuffles), lane r of warp 0 adds the 8
// partial scores in a fixed order and computes row r's loss and residual once (not on all 32
// lanes), and the gradient is summed over the tile's rows by columns: warp w takes rows w, w + 8,
// ..., lane l the float4 columns l, l + 32, .... Partials are per block, summed in a fixed order.
#ifndef TILED_MAX
#define TILED_MAX 256
#endif
#if D % 4 == 0 && D <= TILED_MAX
#define TR 32
#define D4 (D / 4)
// Row stride in float4s, = 1 (mod 8): the 8 lanes of a quarter-warp reading one float4 column of
// 8 rows hit 8 different 16-byte bank groups (no conflicts); D = 100 needs no padding.
#define P4 (D4 + (9 - D4 % 8) % 8)
// float4s of a tile each thread loads, and float4 columns of the gradient each lane keeps.
#define LPT ((TR * D4 + 255) / 256)
#define G4 ((D4 + 31) / 32)

// At least 3 blocks resident per multiprocessor up to 128 features (80 registers); above, ptxas's
// own choice. Both keep every width in registers (ptxas's default spills a few bytes at some
// widths up to 128; the unit test checks every width).
#if D <= 128
#define TILED_BOUNDS __launch_bounds__(256, 3)
#else
#define TILED_BOUNDS __launch_bounds__(256)
#endif

extern "C" __global__ void TILED_BOUNDS logreg_pass_tiled(
    const float4* __restrict__ x, const float* __restrict__ y, long long n, const float* __restrict__ wb,
    double* __restrict__ partial) {
    __shared__ float4 tile[TR * P4];
    __shared__ float4 w4[D4];
    __shared__ float part[8][TR];
    __shared__ float res[TR];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    for (int i = tid; i < D4; i += 256) w4[i] = make_float4(wb[4 * i], wb[4 * i + 1], wb[4 * i + 2], wb[4 * i + 3]);
    const float b = wb[D];
    const long long tiles = (n + TR - 1) / TR;
    float4 g[G4];
#pragma unroll
    for (int k = 0; k < G4; ++k) g[k] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    float loss = 0.0f, gb = 0.0f;
    float4 v[LPT];
    float yv = 0.0f;
    // Loads tile t (rows t·TR ...) into v (and its labels into yv on warp 0), nothing past n.
    auto load = [&](long long t) {
        const long long row0 = t * TR;
        const long long avail = t < tiles ? (n - row0 < TR ? n - row0 : TR) * D4 : 0;
        const float4* src = x + row0 * D4;
#pragma unroll
        for (int k = 0; k < LPT; ++k) {
            const int e = tid + 256 * k;
            if (e < avail) v[k] = __ldg(src + e);
        }
        if (warp == 0 && t < tiles && row0 + lane < n) yv = __ldg(y + row0 + lane);
    };
    long long t = blockIdx.x;
    load(t);
    for (; t < tiles; t += gridDim.x) {
        const long long row0 = t * TR;
        const int rows = (int)(n - row0 < TR ? n - row0 : TR);
#pragma unroll
        for (int k = 0; k < LPT; ++k) {
            const int e = tid + 256 * k;
            if (e < rows * D4) {
                const int r = e / D4;
                tile[r * P4 + (e - r * D4)] = v[k];
            }
        }
        const float label = yv;
        __syncthreads();
        load(t + gridDim.x);
        float s = 0.0f;
        if (lane < rows) {
            for (int c = warp; c < D4; c += 8) {
                const float4 a = tile[lane * P4 + c], w = w4[c];
                s = fmaf(a.x, w.x, s);
                s = fmaf(a.y, w.y, s);
                s = fmaf(a.z, w.z, s);
                s = fmaf(a.w, w.w, s);
            }
        }
        part[warp][lane] = s;
        __syncthreads();
        if (warp == 0) {
            float d = 0.0f;
            if (lane < rows) {
                float z = 0.0f;
#pragma unroll
                for (int w = 0; w < 8; ++w) z += part[w][lane];
                z += b;
                const float e = expf(-fabsf(z));
                const float p = z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
                d = p - label;
                loss += fmaxf(z, 0.0f) - label * z + log1pf(e);
                gb += d;
            }
            res[lane] = d;
        }
        __syncthreads();
        for (int r = warp; r < rows; r += 8) {
            const float d = res[r];
#pragma unroll
            for (int k = 0; k < G4; ++k) {
                const int c = lane + 32 * k;
                if (c < D4) {
                    const float4 a = tile[r * P4 + c];
                    g[k].x = fmaf(d, a.x, g[k].x);
                    g[k].y = fmaf(d, a.y, g[k].y);
                    g[k].z = fmaf(d, a.z, g[k].z);
                    g[k].w = fmaf(d, a.w, g[k].w);
                }
            }
        }
        __syncthreads();
    }
    // The 8 warps' gradients through shared memory (the tile's space), added in warp order.
    float4* sums = tile;
#pragma unroll
    for (int k = 0; k < G4; ++k) {
        const int c = lane + 32 * k;
        if (c < D4) sums[warp * D4 + c] = g[k];
    }
    __syncthreads();
    const float* flat = (const float*)sums;
    const long long blocks = gridDim.x;
    for (int c = tid; c < D; c += 256) {
        double acc = 0.0;
        for (int w = 0; w < 8; ++w) acc += (double)flat[w * D + c];
        partial[c * blocks + blockIdx.x] = acc;
    }
    if (warp == 0) {
        double l = loss, gbd = gb;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            l += __shfl_xor_sync(FULL, l, o);
            gbd += __shfl_xor_sync(FULL, gbd, o);
        }
        if (lane == 0) {
            partial[D * blocks + blockIdx.x] = gbd;
            partial[(D + 1) * blocks + blockIdx.x] = l;
        }
    }
}
#endif

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
