/* ckpt: a net to and from a byte buffer, for storing models as one BLOB.
 *
 * Format (all integers and floats little-endian, whatever the host):
 *   "ARALNET\0" magic, u32 version, u32 in, u32 cond, u32 n_layers,
 *   n_layers x {u32 kind, u32 out, u32 flags, f32 param},
 *   u64 n_param, u64 n_state, u64 adam_step,
 *   f32 adam lr, beta1, beta2, eps,
 *   f32[n_param] param, f32[n_state] state, f32[n_param] adam_m, adam_v,
 *   u32 CRC-32 (IEEE) of every byte before it.
 * Gradients are not saved: they are zeroed before every step.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "net.h"

#define CKPT_VERSION 1

/* Exact size in bytes of n's checkpoint. */
size_t ckpt_size(const net *n);
/* Writes n into buf (cap bytes); returns bytes written or ARAL_ETOOBIG. */
long ckpt_save(const net *n, uint8_t *buf, size_t cap);
/* Loads buf into n, which must have been built from the same spec:
 * ARAL_EINVAL for bad magic, length, checksum or a different shape;
 * ARAL_EVERSION for a newer format. n is unchanged on any error. */
int ckpt_load(net *n, const uint8_t *buf, size_t len);
/* What ckpt_load would return, without changing n. */
int ckpt_check(const net *n, const uint8_t *buf, size_t len);
/* Reads the spec stored in a checkpoint (to build a net to load into).
 * Validates everything ckpt_load does except the shape match. */
int ckpt_read_spec(const uint8_t *buf, size_t len, net_spec *out);
/* CRC-32 (IEEE 802.3, reflected), as zlib's crc32(0, p, n). */
uint32_t ckpt_crc32(const uint8_t *p, size_t n);
