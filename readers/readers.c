/* readers: IDX (zlib), PNG (libpng simplified API) and JPEG (libjpeg with
 * a longjmp error manager). */
#include "readers.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <jpeglib.h> /* after stdio.h: it uses FILE */

#include "err.h"

#define FAIL(...)                                                              \
    do {                                                                       \
        snprintf(why, n, __VA_ARGS__);                                         \
        return ARAL_EINVAL;                                                    \
    } while (0)

/* ---- IDX. */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* Grows *buf of *cap bytes by doubling (to `first` bytes when empty),
 * but never past max + 1 bytes: the extra byte tells data of exactly max
 * bytes from longer data, and a small input that claims more (a gzip
 * bomb, a huge file) cannot make us allocate past the limit. 0,
 * ARAL_ETOOBIG (*cap is max + 1 already) or ARAL_ENOMEM (*buf kept). */
static int grow_capped(uint8_t **buf, size_t *cap, size_t first, size_t max)
{
    if (*cap > max)
        return ARAL_ETOOBIG;
    size_t want = !*cap ? first : *cap > max / 2 ? max + 1 : *cap * 2;
    if (want > max)
        want = max + 1;
    uint8_t *b = realloc(*buf, want);
    if (!b)
        return ARAL_ENOMEM;
    *buf = b, *cap = want;
    return 0;
}

/* Inflates a gzip buffer into a new buffer of at most max bytes
 * (grow_capped). ARAL_ETOOBIG past max, ARAL_ENOMEM without memory,
 * ARAL_EINVAL for a bad stream. */
static int gunzip(const uint8_t *in, size_t len, size_t max, uint8_t **out,
                  size_t *olen, char *why, size_t n)
{
    z_stream z = {0};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        FAIL("zlib init failed");
    uint8_t *buf = NULL;
    size_t cap = 0, used = 0;
    size_t first = len < max / 4 ? len * 4 + 1024 : max + 1;
    int rc = Z_OK, grown = 0;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    while (rc == Z_OK && used <= max) {
        if (used == cap && (grown = grow_capped(&buf, &cap, first, max)))
            break;
        z.next_out = buf + used;
        z.avail_out = (uInt)(cap - used);
        rc = inflate(&z, Z_NO_FLUSH);
        used = cap - z.avail_out;
        if (rc == Z_BUF_ERROR && z.avail_in == 0)
            break; /* input ended before the stream did */
    }
    inflateEnd(&z);
    if (!grown && rc == Z_STREAM_END && used <= max) {
        *out = buf, *olen = used;
        return 0;
    }
    free(buf);
    if (grown == ARAL_ENOMEM || rc == Z_MEM_ERROR) {
        snprintf(why, n, "out of memory inflating the gzip data");
        return ARAL_ENOMEM;
    }
    if (used > max) {
        snprintf(why, n, "gzip data inflates to more than %zu bytes", max);
        return ARAL_ETOOBIG;
    }
    FAIL("gzip data is truncated or corrupt");
}

static int parse_raw_idx(const uint8_t *buf, size_t len, idx_data *out,
                         char *why, size_t n)
{
    if (len < 8)
        FAIL("IDX file too short for its header (%zu bytes)", len);
    if (buf[0] || buf[1] || buf[2] != 0x08)
        FAIL("not an unsigned-byte IDX file (magic %02x%02x%02x%02x)", buf[0],
             buf[1], buf[2], buf[3]);
    int dims = buf[3];
    if (dims != 1 && dims != 3)
        FAIL("IDX with %d dimensions; expected 1 (labels) or 3 (images)", dims);
    if (len < 4 + 4 * (size_t)dims)
        FAIL("IDX header truncated");
    uint64_t count = be32(buf + 4), rows = 1, cols = 1;
    if (dims == 3)
        rows = be32(buf + 8), cols = be32(buf + 12);
    size_t head = 4 + 4 * (size_t)dims;
    if (count == 0 || rows == 0 || cols == 0 || rows > 4096 || cols > 4096)
        FAIL("IDX dimensions out of range");
    uint64_t need = count * rows * cols;
    if (need != len - head)
        FAIL("IDX file is truncated or padded: header says %llu bytes of "
             "data, file has %zu",
             (unsigned long long)need, len - head);
    out->dims = dims;
    out->count = (int)count, out->rows = (int)rows, out->cols = (int)cols;
    out->data = malloc(need);
    if (!out->data)
        return ARAL_ENOMEM;
    memcpy(out->data, buf + head, need);
    return 0;
}

int idx_parse(const uint8_t *buf, size_t len, size_t max_raw, idx_data *out,
              char *why, size_t n)
{
    memset(out, 0, sizeof(*out));
    if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
        uint8_t *raw;
        size_t rlen;
        int rc = gunzip(buf, len, max_raw, &raw, &rlen, why, n);
        if (rc)
            return rc;
        rc = parse_raw_idx(raw, rlen, out, why, n);
        free(raw);
        return rc;
    }
    return parse_raw_idx(buf, len, out, why, n);
}

int idx_read_file(const char *path, idx_data *out, char *why, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        FAIL("cannot open %s", path);
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, got = 1;
    int rc = 0;
    while (got && !rc) {
        if (len == cap)
            rc = grow_capped(&buf, &cap, 1 << 20, READERS_MAX_FILE);
        got = rc ? 0 : fread(buf + len, 1, cap - len, f);
        len += got;
    }
    if (!rc && ferror(f))
        rc = ARAL_EIO;
    fclose(f);
    if (rc == ARAL_ETOOBIG) {
        snprintf(why, n, "%s is larger than %u bytes", path, READERS_MAX_FILE);
        rc = ARAL_EINVAL;
    } else if (rc == ARAL_ENOMEM)
        snprintf(why, n, "out of memory reading %s", path);
    else if (rc)
        snprintf(why, n, "read error on %s", path);
    else
        rc = idx_parse(buf, len, READERS_MAX_FILE, out, why, n);
    free(buf);
    return rc;
}

/* ---- PNG and JPEG. */

static int decode_png(const image_shape *p, const uint8_t *buf, size_t len,
                      uint8_t *out, char *why, size_t n)
{
    png_image im;
    memset(&im, 0, sizeof(im));
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, buf, len))
        FAIL("not a readable PNG: %s", im.message);
    if ((int)im.height != p->height || (int)im.width != p->width) {
        png_image_free(&im);
        FAIL("wrong shape: the PNG is %ux%u, the project takes %dx%d",
             im.height, im.width, p->height, p->width);
    }
    im.format = p->channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    if (!png_image_finish_read(&im, NULL, out, 0, NULL)) {
        png_image_free(&im);
        FAIL("corrupt PNG: %s", im.message);
    }
    return 0;
}

struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
};

static void jpeg_fail(j_common_ptr c)
{
    struct jerr *e = (struct jerr *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jump, 1);
}

static void jpeg_quiet(j_common_ptr c, int level)
{
    (void)c, (void)level; /* warnings are not printed to stderr */
}

static int decode_jpeg(const image_shape *p, const uint8_t *buf, size_t len,
                       uint8_t *out, char *why, size_t n)
{
    struct jpeg_decompress_struct c;
    struct jerr e;
    c.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jpeg_fail;
    e.mgr.emit_message = jpeg_quiet;
    e.msg[0] = 0;
    if (setjmp(e.jump)) {
        jpeg_destroy_decompress(&c);
        FAIL("corrupt JPEG: %s", e.msg);
    }
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, buf, (unsigned long)len);
    jpeg_read_header(&c, TRUE);
    if ((int)c.image_height != p->height || (int)c.image_width != p->width) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "wrong shape: the JPEG is %ux%u, the project takes %dx%d",
                 c.image_height, c.image_width, p->height, p->width);
        jpeg_destroy_decompress(&c);
        FAIL("%s", msg);
    }
    c.out_color_space = p->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&c);
    size_t stride = (size_t)p->width * p->channels;
    while (c.output_scanline < c.output_height) {
        JSAMPROW row = out + stride * c.output_scanline;
        jpeg_read_scanlines(&c, &row, 1);
    }
    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);
    return 0;
}

int image_decode(const image_shape *p, const uint8_t *buf, size_t len,
                 uint8_t *out, char *why, size_t n)
{
    if (len >= 8 && !memcmp(buf, "\x89PNG\r\n\x1a\n", 8))
        return decode_png(p, buf, len, out, why, n);
    if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
        return decode_jpeg(p, buf, len, out, why, n);
    FAIL("not a PNG or JPEG image");
}

int image_png_encode(const image_shape *p, const uint8_t *pixels, uint8_t **png,
                     size_t *len)
{
    png_image im;
    memset(&im, 0, sizeof(im));
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)p->width;
    im.height = (png_uint_32)p->height;
    im.format = p->channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&im, NULL, &size, 0, pixels, 0, NULL))
        return ARAL_EIO;
    *png = malloc(size);
    if (!*png)
        return ARAL_ENOMEM;
    if (!png_image_write_to_memory(&im, *png, &size, 0, pixels, 0, NULL)) {
        free(*png);
        return ARAL_EIO;
    }
    *len = size;
    return 0;
}
