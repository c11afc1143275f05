// DARE's mask, the elementwise combination of merges and the magnitude threshold's bracket scan, each in a scalar
// form and an AVX-512 form chosen at run time. No contraction into fused multiply-adds: each product and sum is
// rounded on its own, as in Swift.
#include "CMergeKernels.h"

#include <string.h>

#pragma STDC FP_CONTRACT OFF

#define GOLDEN 0x9E3779B97F4A7C15ULL

static inline uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void dare_scalar(float *x, size_t n, uint64_t key, uint64_t start, float limit, float scale) {
    for (size_t j = 0; j < n; j++) {
        uint64_t bits = mix(key + (start + (uint64_t)j + 1) * GOLDEN) >> 40;
        x[j] = (float)bits < limit ? x[j] * scale : 0.0f;
    }
}

static void combine_scalar(const float *const *inputs, const float *weights, size_t count, float *out, size_t n, int rule) {
    for (size_t j = 0; j < n; j++) {
        if (rule == QUIVER_COMBINE_SUM) {
            float o = 0.0f + weights[0] * inputs[0][j];
            for (size_t i = 1; i < count; i++) o += weights[i] * inputs[i][j];
            out[j] = o;
            continue;
        }
        float vote = 0.0f;
        for (size_t i = 0; i < count; i++) {
            float v = inputs[i][j];
            vote += rule == QUIVER_COMBINE_TIES_TOTAL ? v : (v > 0 ? 1.0f : (v < 0 ? -1.0f : 0.0f));
        }
        float o = 0.0f, agreeing = 0.0f;
        for (size_t i = 0; i < count; i++) {
            float v = inputs[i][j];
            float agrees = (vote >= 0 ? v > 0 : v < 0) ? 1.0f : 0.0f;
            o += agrees * (weights[i] * v);
            agreeing += agrees;
        }
        out[j] = o / (agreeing >= 1.0f ? agreeing : 1.0f);
    }
}

static size_t bracket_scan_scalar(const float *x, size_t n, uint32_t low, uint32_t high, uint32_t *inside, size_t *above) {
    uint32_t width = high - low;
    size_t found = 0, count = 0;
    for (size_t j = 0; j < n; j++) {
        uint32_t v;
        memcpy(&v, x + j, sizeof v);
        v &= 0x7FFFFFFFu;
        inside[found] = v;  // kept only when the slot advances
        found += (uint32_t)(v - low) <= width;
        count += v > high;
    }
    *above += count;
    return found;
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512dq")))

int quiver_merge_kernels_avx512(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!((c >> 27) & 1)) return 0;  // OSXSAVE
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    if ((lo & 0xE6) != 0xE6) return 0;  // the OS saves SSE, AVX, opmask and ZMM state
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return ((b >> 16) & 1) && ((b >> 17) & 1);  // AVX-512 F, DQ
}

AVX512 static void dare_avx512(float *x, size_t n, uint64_t key, uint64_t start, float limit, float scale) {
    const __m512i golden = _mm512_set1_epi64((long long)GOLDEN);
    const __m512i m1 = _mm512_set1_epi64((long long)0xBF58476D1CE4E5B9ULL);
    const __m512i m2 = _mm512_set1_epi64((long long)0x94D049BB133111EBULL);
    const __m512i step = _mm512_set1_epi64((long long)(16 * GOLDEN));
    const __m512 limits = _mm512_set1_ps(limit), scales = _mm512_set1_ps(scale);
    // Counters of elements j … j+15, in two halves of eight lanes: key + (start + j + 1 + lane) * golden.
    __m512i lanes = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    __m512i base = _mm512_add_epi64(_mm512_set1_epi64((long long)(start + 1)), lanes);
    __m512i c0 = _mm512_add_epi64(_mm512_set1_epi64((long long)key), _mm512_mullo_epi64(base, golden));
    __m512i c1 = _mm512_add_epi64(c0, _mm512_set1_epi64((long long)(8 * GOLDEN)));
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512i z0 = c0, z1 = c1;
        z0 = _mm512_mullo_epi64(_mm512_xor_si512(z0, _mm512_srli_epi64(z0, 30)), m1);
        z1 = _mm512_mullo_epi64(_mm512_xor_si512(z1, _mm512_srli_epi64(z1, 30)), m1);
        z0 = _mm512_mullo_epi64(_mm512_xor_si512(z0, _mm512_srli_epi64(z0, 27)), m2);
        z1 = _mm512_mullo_epi64(_mm512_xor_si512(z1, _mm512_srli_epi64(z1, 27)), m2);
        z0 = _mm512_srli_epi64(_mm512_xor_si512(z0, _mm512_srli_epi64(z0, 31)), 40);
        z1 = _mm512_srli_epi64(_mm512_xor_si512(z1, _mm512_srli_epi64(z1, 31)), 40);
        // 24-bit values: exact as 32-bit integers and as floats.
        __m256i b0 = _mm512_cvtepi64_epi32(z0), b1 = _mm512_cvtepi64_epi32(z1);
        __m512 bits = _mm512_cvtepi32_ps(_mm512_inserti64x4(_mm512_castsi256_si512(b0), b1, 1));
        __mmask16 keep = _mm512_cmp_ps_mask(bits, limits, _CMP_LT_OQ);
        __m512 v = _mm512_loadu_ps(x + j);
        _mm512_storeu_ps(x + j, _mm512_maskz_mul_ps(keep, v, scales));
        c0 = _mm512_add_epi64(c0, step);
        c1 = _mm512_add_epi64(c1, step);
    }
    dare_scalar(x + j, n - j, key, start + j, limit, scale);
}

AVX512 static void combine_avx512(const float *const *inputs, const float *weights, size_t count, float *out, size_t n,
                                   int rule) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f), minus = _mm512_set1_ps(-1.0f);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        if (rule == QUIVER_COMBINE_SUM) {
            __m512 o = _mm512_add_ps(zero, _mm512_mul_ps(_mm512_set1_ps(weights[0]), _mm512_loadu_ps(inputs[0] + j)));
            for (size_t i = 1; i < count; i++)
                o = _mm512_add_ps(o, _mm512_mul_ps(_mm512_set1_ps(weights[i]), _mm512_loadu_ps(inputs[i] + j)));
            _mm512_storeu_ps(out + j, o);
            continue;
        }
        __m512 vote = zero;
        for (size_t i = 0; i < count; i++) {
            __m512 v = _mm512_loadu_ps(inputs[i] + j);
            if (rule == QUIVER_COMBINE_TIES_TOTAL) {
                vote = _mm512_add_ps(vote, v);
            } else {
                __mmask16 pos = _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), neg = _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ);
                __m512 sign = _mm512_mask_mov_ps(_mm512_maskz_mov_ps(neg, minus), pos, one);
                vote = _mm512_add_ps(vote, sign);
            }
        }
        // vote >= 0 (false for NaN): agree when positive; otherwise when negative.
        __mmask16 nonnegative = _mm512_cmp_ps_mask(vote, zero, _CMP_GE_OQ);
        __m512 o = zero, agreeing = zero;
        for (size_t i = 0; i < count; i++) {
            __m512 v = _mm512_loadu_ps(inputs[i] + j);
            __mmask16 pos = _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), neg = _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ);
            __mmask16 agree = (__mmask16)((nonnegative & pos) | (~nonnegative & neg));
            __m512 agrees = _mm512_maskz_mov_ps(agree, one);
            o = _mm512_add_ps(o, _mm512_mul_ps(agrees, _mm512_mul_ps(_mm512_set1_ps(weights[i]), v)));
            agreeing = _mm512_add_ps(agreeing, agrees);
        }
        __m512 divisor = _mm512_mask_mov_ps(one, _mm512_cmp_ps_mask(agreeing, one, _CMP_GE_OQ), agreeing);
        _mm512_storeu_ps(out + j, _mm512_div_ps(o, divisor));
    }
    const float *rest[64];
    for (size_t i = 0; i < count; i++) rest[i] = inputs[i] + j;
    combine_scalar(rest, weights, count, out + j, n - j, rule);
}

AVX512 static size_t bracket_scan_avx512(const float *x, size_t n, uint32_t low, uint32_t high, uint32_t *inside,
                                          size_t *above) {
    const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF), lows = _mm512_set1_epi32((int)low);
    const __m512i highs = _mm512_set1_epi32((int)high), width = _mm512_set1_epi32((int)(high - low));
    size_t found = 0, count = 0, j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512i v = _mm512_and_si512(_mm512_loadu_si512((const void *)(x + j)), magnitude);
        count += (size_t)__builtin_popcount(_mm512_cmpgt_epu32_mask(v, highs));
        __mmask16 hit = _mm512_cmple_epu32_mask(_mm512_sub_epi32(v, lows), width);
        // Compressed in a register and stored whole (the slack after the kept ones is overwritten later): the
        // compress-to-memory form is microcoded and slow on some CPUs (AMD Zen 4).
        _mm512_storeu_si512((void *)(inside + found), _mm512_maskz_compress_epi32(hit, v));
        found += (size_t)__builtin_popcount(hit);
    }
    *above += count;
    return found + bracket_scan_scalar(x + j, n - j, low, high, inside + found, above);
}

static int avx512_state = -1;  // -1 unknown; a benign race: every thread computes the same answer

/// Whether to take the AVX-512 form: asked for (`vector`) and supported, the CPU asked once.
static int use_avx512(int vector) {
    if (!vector) return 0;
    int state = __atomic_load_n(&avx512_state, __ATOMIC_RELAXED);
    if (state < 0) {
        state = quiver_merge_kernels_avx512();
        __atomic_store_n(&avx512_state, state, __ATOMIC_RELAXED);
    }
    return state;
}

void quiver_dare_mask(float *x, size_t n, uint64_t key, uint64_t start, float limit, float scale, int vector) {
    if (use_avx512(vector)) {
        dare_avx512(x, n, key, start, limit, scale);
    } else {
        dare_scalar(x, n, key, start, limit, scale);
    }
}

void quiver_combine(const float *const *inputs, const float *weights, size_t count, float *out, size_t n, int rule, int vector) {
    // The vector form keeps its tail's input pointers in a 64-entry array: a merge takes at most 64 inputs.
    if (count <= 64 && use_avx512(vector)) {
        combine_avx512(inputs, weights, count, out, n, rule);
    } else {
        combine_scalar(inputs, weights, count, out, n, rule);
    }
}

size_t quiver_bracket_scan(const float *x, size_t n, uint32_t low, uint32_t high, uint32_t *inside, size_t *above, int vector) {
    return use_avx512(vector) ? bracket_scan_avx512(x, n, low, high, inside, above)
                              : bracket_scan_scalar(x, n, low, high, inside, above);
}

#else

int quiver_merge_kernels_avx512(void) { return 0; }

size_t quiver_bracket_scan(const float *x, size_t n, uint32_t low, uint32_t high, uint32_t *inside, size_t *above, int vector) {
    (void)vector;
    return bracket_scan_scalar(x, n, low, high, inside, above);
}

void quiver_combine(const float *const *inputs, const float *weights, size_t count, float *out, size_t n, int rule, int vector) {
    (void)vector;
    combine_scalar(inputs, weights, count, out, n, rule);
}

void quiver_dare_mask(float *x, size_t n, uint64_t key, uint64_t start, float limit, float scale, int vector) {
    (void)vector;
    dare_scalar(x, n, key, start, limit, scale);
}

#endif
