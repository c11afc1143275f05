#ifndef QUIVER_CMERGEKERNELS_H
#define QUIVER_CMERGEKERNELS_H
// Merge kernels whose fast form needs instructions Swift's baseline x86-64 code cannot use (64-bit lane
// multiplies), chosen at run time; every form computes exactly the same result.

#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU (and OS) runs the AVX-512 forms (AVX-512 F and DQ).
int quiver_merge_kernels_avx512(void);

/// DARE's mask on `n` floats at `x`, element `start` of the tensor first: element i (= start + j) is kept when
/// the top 24 bits of splitmix64's finalizer of key + (i + 1) * 0x9E3779B97F4A7C15 (mod 2^64), as a float, are
/// below `limit`, and is then multiplied by `scale`; otherwise it becomes +0. `vector` 0 forces the scalar form.
void quiver_dare_mask(float *x, size_t n, uint64_t key, uint64_t start, float limit, float scale, int vector);

/// What ``quiver_combine`` computes per entry.
enum {
    /// out = 0 + w_0·x_0 + w_1·x_1 + … (in input order).
    QUIVER_COMBINE_SUM = 0,
    /// TIES: the vote is 0 + x_0 + x_1 + …; input i agrees when (vote >= 0 ? x_i > 0 : x_i < 0); out = (0 + a_0·(w_0·x_0)
    /// + a_1·(w_1·x_1) + …) / max(a_0 + a_1 + …, 1), a_i being 1 or 0.
    QUIVER_COMBINE_TIES_TOTAL = 1,
    /// TIES with the vote 0 + sgn(x_0) + sgn(x_1) + … (sgn: 1, -1, or 0 for zero and NaN).
    QUIVER_COMBINE_TIES_FREQUENCY = 2,
};

/// Combines entry by entry `count` inputs of `n` floats each into `out` (which may be uninitialized), every
/// operation rounded separately in the order written above (no fused multiply-add), so every form gives the same
/// bits as the Swift definition. `vector` 0 forces the scalar form.
void quiver_combine(const float *const *inputs, const float *weights, size_t count, float *out, size_t n, int rule, int vector);

/// Counts the entries of `x` whose |x| bits (the sign bit cleared) exceed `high` into `*above`, and stores those
/// whose |x| bits lie in [low, high] at `inside` (room for `n` + 16: the vector form stores 16 at a time), in
/// order; returns how many it stored. `vector` 0 forces the scalar form.
size_t quiver_bracket_scan(const float *x, size_t n, uint32_t low, uint32_t high, uint32_t *inside, size_t *above, int vector);

#endif
