/*
 * Internal to the Merkle tree code, and to its tests.
 */
#ifndef GB_MERKLE_INT_H
#define GB_MERKLE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "gb/merkle.h"

/* H(0x01 || left || right) for children of any length (RFC 9162 2.1.1);
 * gb_merkle_node_hash() is this for two hashes. */
void gb__merkle_node_hash_raw(const uint8_t *left, size_t llen,
    const uint8_t *right, size_t rlen, uint8_t out[GB_HASH_BYTES]);

#endif /* GB_MERKLE_INT_H */
