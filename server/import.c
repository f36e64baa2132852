/* import: files and uploads into the store (the readers do the parsing:
 * readers/), base64 and SHA-256 (nettle). */
#include "import.h"

#include <nettle/base64.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define FAIL(...)                                                              \
    do {                                                                       \
        snprintf(why, n, __VA_ARGS__);                                         \
        return ARAL_EINVAL;                                                    \
    } while (0)

int import_idx_check(const project_info *p, const idx_data *img,
                     const idx_data *lab, char *why, size_t n)
{
    if (img->dims != 3)
        FAIL("the images file has %d dimension(s), expected 3", img->dims);
    if (p->dim > 0 || p->channels != 1 || img->rows != p->height ||
        img->cols != p->width)
        FAIL("wrong shape: IDX images are %dx%dx1, the project takes "
             "%dx%dx%d",
             img->rows, img->cols, p->height, p->width, p->channels);
    if (!lab)
        return 0;
    if (lab->dims != 1 || lab->count != img->count)
        FAIL("the labels file does not match the images (%d labels, %d "
             "images)",
             lab->count, img->count);
    for (int i = 0; i < lab->count; i++)
        if (lab->data[i] >= p->n_classes)
            FAIL("label %d at index %d is outside the %d classes", lab->data[i],
                 i, p->n_classes);
    return 0;
}

int import_idx_into(store *st, const project_info *p, const idx_data *img,
                    const idx_data *lab, const char *split, const char *name,
                    int64_t now, import_stats *stats, char *why, size_t n)
{
    int rc = import_idx_check(p, img, lab, why, n);
    if (rc)
        return rc;
    size_t each = (size_t)img->rows * img->cols;
    memset(stats, 0, sizeof(*stats));
    if ((rc = store_begin(st)))
        FAIL("database busy");
    for (int i = 0; i < img->count && !rc; i++) {
        uint8_t hash[32];
        char ext[300];
        const uint8_t *px = img->data + each * i;
        int64_t id;
        bool dup;
        snprintf(ext, sizeof(ext), "%s:%d", name, i);
        import_sample_hash(px, each, hash);
        rc = store_sample_insert(st, hash, ext, split, px, each,
                                 lab ? lab->data[i] : -1, now, &id, &dup);
        dup ? stats->duplicates++ : stats->inserted++;
    }
    if (rc) {
        store_rollback(st);
        FAIL("database error while importing (%d)", rc);
    }
    return store_commit(st);
}

/* ---- images: the project's shape for the readers. */

static image_shape shape_of(const project_info *p)
{
    return (image_shape){p->height, p->width, p->channels};
}

int import_decode_image(const project_info *p, const uint8_t *buf, size_t len,
                        uint8_t *out, char *why, size_t n)
{
    if (p->dim > 0)
        FAIL("this project takes vectors of %d floats, not images", p->dim);
    image_shape s = shape_of(p);
    return image_decode(&s, buf, len, out, why, n);
}

int import_png_encode(const project_info *p, const uint8_t *pixels,
                      uint8_t **png, size_t *len)
{
    image_shape s = shape_of(p);
    return image_png_encode(&s, pixels, png, len);
}

/* ---- base64 and hashes. */

int import_base64(const char *s, uint8_t **out, size_t *len)
{
    size_t in = strlen(s);
    struct base64_decode_ctx ctx;
    base64_decode_init(&ctx);
    uint8_t *buf = malloc(BASE64_DECODE_LENGTH(in) + 1);
    if (!buf)
        return ARAL_ENOMEM;
    size_t got = BASE64_DECODE_LENGTH(in) + 1;
    if (!base64_decode_update(&ctx, &got, buf, in, s) ||
        !base64_decode_final(&ctx)) {
        free(buf);
        return ARAL_EINVAL;
    }
    *out = buf, *len = got;
    return 0;
}

void import_sha256(const void *data, size_t len, uint8_t out[32])
{
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, len, data);
    sha256_digest(&c, SHA256_DIGEST_SIZE, out);
}

void import_sample_hash(const void *data, size_t len, uint8_t out[32])
{
    import_sha256(data, len, out);
}
