/* import: turning outside bytes into the project's samples. The files
 * themselves are parsed by readers/ (IDX, PNG, JPEG), which aral-sim
 * shares; here they meet the project (shapes, the store), with base64
 * and SHA-256 for dedupe and token hashes (nettle). Nothing here touches
 * the network or the store, except import_idx_into, which inserts a
 * parsed file in one transaction.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "readers.h"
#include "store.h"

/* The images (and labels, may be NULL) fit the project: 0, or
 * ARAL_EINVAL with why. */
int import_idx_check(const project_info *p, const idx_data *img,
                     const idx_data *lab, char *why, size_t n);

typedef struct import_stats {
    int inserted, duplicates;
} import_stats;

/* Inserts images (and labels, may be NULL) into the pool or eval split in
 * one transaction; external_id is "NAME:INDEX". Shapes are checked
 * against the project first; on any error nothing is inserted. */
int import_idx_into(store *st, const project_info *p, const idx_data *img,
                    const idx_data *lab, const char *split, const char *name,
                    int64_t now, import_stats *stats, char *why, size_t n);

/* Decodes a PNG or JPEG (by magic bytes) into the project's shape
 * (height x width x channels uint8). Gray and colour are converted to the
 * project's channels; a different size is refused (wrong_shape). out
 * holds project_sample_bytes(p). Returns 0, or ARAL_EINVAL with why. */
int import_decode_image(const project_info *p, const uint8_t *buf, size_t len,
                        uint8_t *out, char *why, size_t n);
/* Encodes one image sample as PNG; caller frees *png with free(). */
int import_png_encode(const project_info *p, const uint8_t *pixels,
                      uint8_t **png, size_t *len);

/* Base64 (RFC 4648, padding optional) to bytes; caller frees *out. */
int import_base64(const char *s, uint8_t **out, size_t *len);

void import_sha256(const void *data, size_t len, uint8_t out[32]);
/* The dedupe hash of a sample: SHA-256 over its bytes. */
void import_sample_hash(const void *data, size_t len, uint8_t out[32]);
