/* ckpt: a net to and from a byte buffer, for storing models as one BLOB.
 *
 * Format (all integers and floats little-endian, whatever the host):
 *   "ARALNET\0" magic, u32 version (2), u32 flags, u32 in, u32 cond,
 *   u32 n_layers, n_layers x {u32 kind, u32 out, u32 flags, f32 param},
 *   u64 n_param, u64 n_state, u64 adam_step,
 *   f32 adam lr, beta1, beta2, eps,
 *   f32[n_param] param, f32[n_state] state,
 *   with CKPT_ADAM in flags: f32[n_param] adam_m, adam_v,
 *   u32 CRC-32 (IEEE) of every byte before it.
 * Version 1 had no flags word and always the moments; it still loads.
 * Gradients are not saved: they are zeroed before every step.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "net.h"

#define CKPT_VERSION 2
/* flags: Adam's moments too, to resume an optimiser mid-run. Without
 * them a checkpoint is a third of the size, and a load leaves Adam as
 * optim_adam_reset does (step 0, moments 0). */
#define CKPT_ADAM 1u

/* Exact size in bytes of n's checkpoint with these flags. */
size_t ckpt_size(const net *n, unsigned flags);
/* Writes n into buf (cap bytes); returns bytes written or ARAL_ETOOBIG.
 * ARAL_EINVAL for unknown flags. */
long ckpt_save(const net *n, unsigned flags, uint8_t *buf, size_t cap);
/* Loads buf into n, which must have been built from the same spec:
 * ARAL_EINVAL for bad magic, flags, length, checksum or a different
 * shape; ARAL_EVERSION for a newer format. n is unchanged on any
 * error. */
int ckpt_load(net *n, const uint8_t *buf, size_t len);
/* What ckpt_load would return, without changing n. */
int ckpt_check(const net *n, const uint8_t *buf, size_t len);
/* Reads the spec stored in a checkpoint (to build a net to load into).
 * Validates everything ckpt_load does except the shape match. */
int ckpt_read_spec(const uint8_t *buf, size_t len, net_spec *out);
/* CRC-32 (IEEE 802.3, reflected), as zlib's crc32(0, p, n). */
uint32_t ckpt_crc32(const uint8_t *p, size_t n);
