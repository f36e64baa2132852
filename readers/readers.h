/* readers: the data files arald imports and aral-sim reads, parsed in
 * one module outside core/ and outside the server: IDX (gzip or plain,
 * zlib), PNG (libpng) and JPEG (libjpeg-turbo). Every reader validates
 * sizes against the bytes it has before using them and reports a
 * one-line reason on refusal (ARAL_EINVAL). No store, no network.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define READERS_MAX_FILE (1u << 30) /* 1 GiB, decompressed */

typedef struct idx_data {
    int dims; /* 1 (labels) or 3 (images) */
    int count, rows, cols;
    uint8_t *data; /* count * rows * cols (or count) bytes; free() */
} idx_data;

/* Parses an IDX buffer, gunzipping it first when it starts with the gzip
 * magic, into at most max_raw bytes (at least 1024): past that,
 * ARAL_ETOOBIG; without memory, ARAL_ENOMEM. Only unsigned-byte IDX with
 * 1 or 3 dimensions is accepted. */
int idx_parse(const uint8_t *buf, size_t len, size_t max_raw, idx_data *out,
              char *why, size_t n);
/* Reads a whole file (at most READERS_MAX_FILE, also once inflated) and
 * parses it. */
int idx_read_file(const char *path, idx_data *out, char *why, size_t n);

typedef struct image_shape {
    int height, width, channels; /* channels 1 (gray) or 3 (RGB) */
} image_shape;

/* Decodes a PNG or JPEG (by magic bytes) into shape (height x width x
 * channels uint8, converting gray and colour); another size is refused
 * with a reason that starts "wrong shape". */
int image_decode(const image_shape *shape, const uint8_t *buf, size_t len,
                 uint8_t *out, char *why, size_t n);
/* Encodes pixels of shape as PNG; caller frees *png with free(). */
int image_png_encode(const image_shape *shape, const uint8_t *pixels,
                     uint8_t **png, size_t *len);
