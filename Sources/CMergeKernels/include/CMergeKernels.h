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

#endif
