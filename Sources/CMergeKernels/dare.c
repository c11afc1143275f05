#include "CMergeKernels.h"

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

static int avx512_state = -1;  // -1 unknown; a benign race: every thread computes the same answer

void quiver_dare_mask(float *x, size_t n, uint64_t key, uint64_t start, float limit, float scale, int vector) {
    if (vector) {
        int state = __atomic_load_n(&avx512_state, __ATOMIC_RELAXED);
        if (state < 0) {
            state = quiver_merge_kernels_avx512();
            __atomic_store_n(&avx512_state, state, __ATOMIC_RELAXED);
        }
        if (state) {
            dare_avx512(x, n, key, start, limit, scale);
            return;
        }
    }
    dare_scalar(x, n, key, start, limit, scale);
}

#else

int quiver_merge_kernels_avx512(void) { return 0; }

void quiver_dare_mask(float *x, size_t n, uint64_t key, uint64_t start, float limit, float scale, int vector) {
    (void)vector;
    dare_scalar(x, n, key, start, limit, scale);
}

#endif
