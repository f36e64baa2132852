/* ckpt: explicit little-endian encoding, one cursor for writing and one
 * for reading. The reader checks every length against the bytes left
 * before using it, and checks the CRC before touching the net, so a
 * truncated or corrupt buffer is refused without changing anything. */
#include "ckpt.h"

#include <stdbool.h>
#include <string.h>

#include "err.h"
#include "optim.h"

static const uint8_t MAGIC[8] = {'A', 'R', 'A', 'L', 'N', 'E', 'T', 0};
#define FLAGS_BYTES 4 /* the flags word: version 1 had none */
#define HEADER_BYTES (8 + 4 * 4 + FLAGS_BYTES)
#define LAYER_BYTES 16
#define TAIL_BYTES (3 * 8 + 4 * 4)

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* CRC-32 eight bytes a step (slicing-by-8): t[0] is the byte-wise
 * table, t[k] advances a byte's contribution k more bytes. The tables are
 * built on each call (2,048 entries, microseconds), as core/ keeps no
 * static state; bit by bit, the CRC took a quarter of a second per
 * checkpoint of a 2M-parameter model. */
static void crc_tables(uint32_t t[8][256])
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
        t[0][i] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++)
            t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
}

uint32_t ckpt_crc32(const uint8_t *p, size_t n)
{
    uint32_t t[8][256];
    crc_tables(t);
    uint32_t crc = 0xffffffffu;
    for (; n >= 8; p += 8, n -= 8) {
        uint32_t a = crc ^ le32(p), b = le32(p + 4);
        crc = t[7][a & 0xff] ^ t[6][(a >> 8) & 0xff] ^ t[5][(a >> 16) & 0xff] ^
              t[4][a >> 24] ^ t[3][b & 0xff] ^ t[2][(b >> 8) & 0xff] ^
              t[1][(b >> 16) & 0xff] ^ t[0][b >> 24];
    }
    for (; n > 0; p++, n--)
        crc = t[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
    return ~crc;
}

typedef struct cursor {
    uint8_t *w;
    const uint8_t *r;
    size_t left;
} cursor;

static void put_u32(cursor *c, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        *c->w++ = (uint8_t)(v >> (8 * i));
}

static void put_u64(cursor *c, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *c->w++ = (uint8_t)(v >> (8 * i));
}

static void put_f32s(cursor *c, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t v;
        memcpy(&v, &f[i], 4);
        put_u32(c, v);
    }
}

static uint32_t get_u32(cursor *c)
{
    uint32_t v = le32(c->r);
    c->r += 4, c->left -= 4;
    return v;
}

static uint64_t get_u64(cursor *c)
{
    uint64_t lo = get_u32(c);
    return lo | (uint64_t)get_u32(c) << 32;
}

static float get_f32(cursor *c)
{
    uint32_t v = get_u32(c);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

static void get_f32s(cursor *c, float *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        f[i] = get_f32(c);
}

size_t ckpt_size(const net *n, unsigned flags)
{
    size_t floats = n->n_param + n->n_state;
    if (flags & CKPT_ADAM)
        floats += 2 * n->n_param;
    return HEADER_BYTES + (size_t)n->spec.n_layers * LAYER_BYTES + TAIL_BYTES +
           4 * floats + 4;
}

long ckpt_save(const net *n, unsigned flags, uint8_t *buf, size_t cap)
{
    if (flags & ~CKPT_ADAM)
        return ARAL_EINVAL;
    bool adam = flags & CKPT_ADAM;
    size_t size = ckpt_size(n, flags);
    if (cap < size)
        return ARAL_ETOOBIG;
    cursor c = {buf, NULL, cap};
    memcpy(c.w, MAGIC, 8);
    c.w += 8;
    put_u32(&c, CKPT_VERSION);
    put_u32(&c, flags);
    put_u32(&c, (uint32_t)n->spec.in);
    put_u32(&c, (uint32_t)n->spec.cond);
    put_u32(&c, (uint32_t)n->spec.n_layers);
    for (int i = 0; i < n->spec.n_layers; i++) {
        const layer_spec *l = &n->spec.layers[i];
        put_u32(&c, (uint32_t)l->kind);
        put_u32(&c, (uint32_t)l->out);
        put_u32(&c, (uint32_t)l->flags);
        put_f32s(&c, &l->param, 1);
    }
    put_u64(&c, n->n_param);
    put_u64(&c, n->n_state);
    put_u64(&c, adam ? (uint64_t)n->adam_step : 0);
    put_f32s(&c, &n->adam.lr, 1);
    put_f32s(&c, &n->adam.beta1, 1);
    put_f32s(&c, &n->adam.beta2, 1);
    put_f32s(&c, &n->adam.eps, 1);
    put_f32s(&c, n->param, n->n_param);
    put_f32s(&c, n->state, n->n_state);
    if (adam) {
        put_f32s(&c, n->adam_m, n->n_param);
        put_f32s(&c, n->adam_v, n->n_param);
    }
    put_u32(&c, ckpt_crc32(buf, size - 4));
    return (long)size;
}

/* What a header says beside the spec. */
typedef struct header {
    uint32_t version, flags;
    uint64_t n_param, n_state, adam_step;
} header;

/* Checks magic, version, flags, CRC and the header; fills spec and h. */
static int read_header(cursor *c, const uint8_t *buf, size_t len,
                       net_spec *spec, header *h)
{
    if (len < HEADER_BYTES - FLAGS_BYTES + TAIL_BYTES + 4 ||
        memcmp(buf, MAGIC, 8))
        return ARAL_EINVAL;
    c->r = buf + 8, c->left = len - 8;
    h->version = get_u32(c);
    if (h->version > CKPT_VERSION)
        return ARAL_EVERSION;
    if (h->version < 1 || ckpt_crc32(buf, len - 4) != le32(buf + len - 4))
        return ARAL_EINVAL;
    h->flags = h->version == 1 ? CKPT_ADAM : get_u32(c);
    if (h->flags & ~CKPT_ADAM || c->left < 3 * 4 + TAIL_BYTES + 4)
        return ARAL_EINVAL;
    memset(spec, 0, sizeof(*spec));
    spec->in = (int)get_u32(c);
    spec->cond = (int)get_u32(c);
    uint32_t nl = get_u32(c);
    if (nl == 0 || nl > NET_MAX_LAYERS ||
        c->left < (size_t)nl * LAYER_BYTES + TAIL_BYTES + 4)
        return ARAL_EINVAL;
    spec->n_layers = (int)nl;
    for (uint32_t i = 0; i < nl; i++) {
        layer_spec *l = &spec->layers[i];
        l->kind = (layer_kind)get_u32(c);
        l->out = (int)get_u32(c);
        l->flags = (int)get_u32(c);
        l->param = get_f32(c);
    }
    h->n_param = get_u64(c);
    h->n_state = get_u64(c);
    h->adam_step = get_u64(c);
    return 0;
}

int ckpt_read_spec(const uint8_t *buf, size_t len, net_spec *out)
{
    cursor c;
    header h;
    return read_header(&c, buf, len, out, &h);
}

static int same_spec(const net_spec *a, const net_spec *b)
{
    if (a->in != b->in || a->cond != b->cond || a->n_layers != b->n_layers)
        return 0;
    for (int i = 0; i < a->n_layers; i++) {
        const layer_spec *x = &a->layers[i], *y = &b->layers[i];
        if (x->kind != y->kind || x->out != y->out || x->flags != y->flags ||
            x->param != y->param)
            return 0;
    }
    return 1;
}

/* Validates buf for n; leaves the cursor at the Adam fields. */
static int check(const net *n, const uint8_t *buf, size_t len, cursor *c,
                 header *h)
{
    net_spec spec;
    int rc = read_header(c, buf, len, &spec, h);
    if (rc)
        return rc;
    size_t want = ckpt_size(n, h->flags) - (h->version == 1 ? FLAGS_BYTES : 0);
    if (!same_spec(&spec, &n->spec) || h->n_param != n->n_param ||
        h->n_state != n->n_state || len != want)
        return ARAL_EINVAL;
    return 0;
}

int ckpt_check(const net *n, const uint8_t *buf, size_t len)
{
    cursor c;
    header h;
    return check(n, buf, len, &c, &h);
}

int ckpt_load(net *n, const uint8_t *buf, size_t len)
{
    cursor c;
    header h;
    int rc = check(n, buf, len, &c, &h);
    if (rc)
        return rc;
    n->adam.lr = get_f32(&c);
    n->adam.beta1 = get_f32(&c);
    n->adam.beta2 = get_f32(&c);
    n->adam.eps = get_f32(&c);
    get_f32s(&c, n->param, n->n_param);
    get_f32s(&c, n->state, n->n_state);
    if (h.flags & CKPT_ADAM) {
        n->adam_step = (int64_t)h.adam_step;
        get_f32s(&c, n->adam_m, n->n_param);
        get_f32s(&c, n->adam_v, n->n_param);
    } else {
        optim_adam_reset(n);
    }
    net_params_changed(n);
    return 0;
}
