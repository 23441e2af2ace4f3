/* libstrongroom-client.so -- buffers: the request under construction (wiped before it is
 * freed or grown) and the bounds-checked reader of an answer. */
#include "client.h"

void sr_wipe_free(void *p, size_t n)
{
    if (p != NULL) {
        explicit_bzero(p, n);
        free(p);
    }
}

static int sr_reserve(sr_buf *b, size_t more)
{
    size_t need, cap;
    unsigned char *p;
    if (b->rv != CKR_OK)
        return 0;
    if (more > SR_MAX_FRAME || b->len + more > SR_MAX_FRAME) {
        b->rv = CKR_DATA_LEN_RANGE;
        return 0;
    }
    need = b->len + more;
    if (need <= b->cap)
        return 1;
    cap = b->cap ? b->cap * 2 : 256;
    while (cap < need)
        cap *= 2;
    p = malloc(cap);                     /* no realloc: the old copy is wiped first */
    if (p == NULL) {
        b->rv = CKR_HOST_MEMORY;
        return 0;
    }
    if (b->len)
        memcpy(p, b->data, b->len);
    sr_wipe_free(b->data, b->cap);
    b->data = p;
    b->cap = cap;
    return 1;
}

void sr_buf_free(sr_buf *b)
{
    sr_wipe_free(b->data, b->cap);
    memset(b, 0, sizeof(*b));
}

void sr_bytes(sr_buf *b, const void *p, size_t n)
{
    if (sr_reserve(b, n) && n) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
}

void sr_u8(sr_buf *b, unsigned v) { unsigned char c = (unsigned char)v; sr_bytes(b, &c, 1); }

void sr_u32(sr_buf *b, uint32_t v)
{
    unsigned char c[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                           (unsigned char)v };
    sr_bytes(b, c, 4);
}

void sr_u64(sr_buf *b, uint64_t v)
{
    sr_u32(b, (uint32_t)(v >> 32));
    sr_u32(b, (uint32_t)v);
}

/* a raw byte array: uint32 length and the bytes, 0xFFFFFFFF for NULL */
void sr_array(sr_buf *b, const void *p, CK_ULONG n)
{
    if (p == NULL) {
        if (n != 0 && b->rv == CKR_OK)
            b->rv = CKR_ARGUMENTS_BAD;
        sr_u32(b, SR_NULL_ARRAY);
        return;
    }
    if (n >= 0x7FFFFFFFUL) {
        if (b->rv == CKR_OK)
            b->rv = CKR_DATA_LEN_RANGE;
        return;
    }
    sr_u32(b, (uint32_t)n);
    sr_bytes(b, p, n);
}

const unsigned char *sr_take(sr_rd *r, size_t n)
{
    const unsigned char *p;
    if (r->bad || n > r->left) {
        r->bad = 1;
        return NULL;
    }
    p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

unsigned sr_rd_u8(sr_rd *r) { const unsigned char *p = sr_take(r, 1); return p ? p[0] : 0; }

uint32_t sr_rd_u32(sr_rd *r)
{
    const unsigned char *p = sr_take(r, 4);
    return p ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) : 0;
}

uint64_t sr_rd_u64(sr_rd *r)
{
    uint64_t hi = sr_rd_u32(r);
    return hi << 32 | sr_rd_u32(r);
}

/* a raw byte array; *isnull for 0xFFFFFFFF; the length is checked against the frame */
const unsigned char *sr_rd_array(sr_rd *r, uint32_t *len, int *isnull)
{
    uint32_t n = sr_rd_u32(r);
    *isnull = 0;
    *len = 0;
    if (r->bad)
        return NULL;
    if (n == SR_NULL_ARRAY) {
        *isnull = 1;
        return NULL;
    }
    *len = n;
    return sr_take(r, n);
}
