//! The CPU row arithmetic the fused engine and chunked prediction share: dot products with 16
//! running sums in a fixed order (the same bits with AVX2 as without), probabilities, and how many
//! worker threads to use.

pub(crate) const LANES: usize = 16;

/// Σ a·b with 16 running sums in a fixed order (vectorizes, and gives the same bits on every
/// instruction set).
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut s = [0f32; LANES];
    let (a_whole, a_tail) = a.as_chunks::<LANES>();
    let (b_whole, b_tail) = b[..a.len()].as_chunks::<LANES>();
    for (x, w) in a_whole.iter().zip(b_whole) {
        for k in 0..LANES {
            s[k] += x[k] * w[k];
        }
    }
    let mut tail = 0f32;
    for (x, w) in a_tail.iter().zip(b_tail) {
        tail += x * w;
    }
    for half in [8, 4, 2, 1] {
        for k in 0..half {
            s[k] += s[k + half];
        }
    }
    s[0] + tail
}

/// [`dot`] in AVX registers: the same 16 running sums and reduction order, so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let (a_whole, a_tail) = a.as_chunks::<LANES>();
    let (b_whole, b_tail) = b[..a.len()].as_chunks::<LANES>();
    // SAFETY: every load reads 8 f32 inside a 16-element array.
    unsafe {
        let (mut lo, mut hi) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        for (x, w) in a_whole.iter().zip(b_whole) {
            let (x, w) = (x.as_ptr(), w.as_ptr());
            lo = _mm256_add_ps(lo, _mm256_mul_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(w)));
            hi = _mm256_add_ps(hi, _mm256_mul_ps(_mm256_loadu_ps(x.add(8)), _mm256_loadu_ps(w.add(8))));
        }
        let s8 = _mm256_add_ps(lo, hi);
        let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
        let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
        let s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
        let mut tail = 0f32;
        for (x, w) in a_tail.iter().zip(b_tail) {
            tail += x * w;
        }
        _mm_cvtss_f32(s1) + tail
    }
}

/// The worker threads: libtorch's intra-op count, which follows `OMP_NUM_THREADS`.
pub(crate) fn threads() -> usize {
    tch::get_num_threads().max(1) as usize
}

/// Appends P(y = 1) = sigmoid(x·w + b) of each row of `x` (`d` features) to `out`.
pub(crate) fn probabilities(x: &[f32], d: usize, w: &[f32], b: f32, out: &mut Vec<f32>) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return out.extend(x.chunks_exact(d).map(|row| sigmoid(unsafe { dot_avx2(row, w) } + b)));
    }
    out.extend(x.chunks_exact(d).map(|row| sigmoid(dot(row, w) + b)));
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}
