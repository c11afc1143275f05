#ifndef QUIVER_CSHA256_H
#define QUIVER_CSHA256_H

#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has the SHA extensions (SHA-NI) and SSE4.1, which the functions below need.
int quiver_sha256_accelerated(void);

/// SHA-256 compression of `blocks` consecutive 64-byte blocks into `state` (the eight working words, host order).
void quiver_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);

/// The same for two independent streams at once, one block of each per step: `blocks` blocks of `a` into
/// `state_a` and `blocks` blocks of `b` into `state_b`. Interleaving the two dependency chains keeps the SHA units
/// busy, so two digests cost little more than one.
void quiver_sha256_blocks_x2(uint32_t state_a[8], const uint8_t *a, uint32_t state_b[8], const uint8_t *b, size_t blocks);

#endif
