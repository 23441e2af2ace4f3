/* libstrongroom-client.so -- attributes: templates into the request (aA, fA), a
 * C_GetAttributeValue answer into the caller's template (v2.40 §5.7.5). */
#include "client.h"

/* One attribute of a C_GetAttributeValue answer into ``a`` (NULL: read and drop it).
 * ``a`` with a NULL or empty buffer asked for the length only. */
static void sr_answer_one(sr_rd *r, CK_ATTRIBUTE *a, int depth, int *small);

static CK_RV sr_attrs(sr_buf *b, const CK_ATTRIBUTE *t, CK_ULONG n, int depth)
{
    CK_ULONG i, k;
    CK_RV rv;
    if (depth > SR_MAX_DEPTH || n > 0xFFFFFFUL)
        return CKR_TEMPLATE_INCONSISTENT;
    if (t == NULL && n != 0)
        return CKR_ARGUMENTS_BAD;
    sr_u32(b, (uint32_t)n);
    for (i = 0; i < n; i++) {
        const CK_ATTRIBUTE *a = &t[i];
        CK_ULONG len = a->ulValueLen, u;
        if (a->type > 0xFFFFFFFFUL)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        sr_u32(b, (uint32_t)a->type);
        if (len == CK_UNAVAILABLE_INFORMATION) {
            sr_u8(b, 0);
            continue;
        }
        if (len >= 0x7FFFFFFFUL || (a->pValue == NULL && len != 0))
            return CKR_ATTRIBUTE_VALUE_INVALID;
        sr_u8(b, 1);
        sr_u32(b, (uint32_t)len);
        switch (sr_attr_cls(a->type)) {
        case SR_A_BYTE:
            if (len != 1)
                return CKR_ATTRIBUTE_VALUE_INVALID;
            sr_u8(b, *(const CK_BYTE *)a->pValue);
            break;
        case SR_A_ULONG:
            if (len != sizeof(CK_ULONG))
                return CKR_ATTRIBUTE_VALUE_INVALID;
            memcpy(&u, a->pValue, sizeof(u));
            sr_u64(b, u);
            break;
        case SR_A_TEMPLATE:
            if (len % sizeof(CK_ATTRIBUTE))
                return CKR_ATTRIBUTE_VALUE_INVALID;
            rv = sr_attrs(b, a->pValue, len / sizeof(CK_ATTRIBUTE), depth + 1);
            if (rv != CKR_OK)
                return rv;
            break;
        case SR_A_MECHS:
            if (len % sizeof(CK_ULONG))
                return CKR_ATTRIBUTE_VALUE_INVALID;
            sr_u32(b, (uint32_t)(len / sizeof(CK_ULONG)));
            for (k = 0; k < len / sizeof(CK_ULONG); k++) {
                memcpy(&u, (const unsigned char *)a->pValue + k * sizeof(CK_ULONG), sizeof(u));
                sr_u64(b, u);
            }
            break;
        default:
            sr_array(b, a->pValue, len);
        }
    }
    return CKR_OK;
}

void sr_put_attrs(sr_call *c, const CK_ATTRIBUTE *t, CK_ULONG n, int depth)
{
    CK_RV rv = sr_attrs(&c->req, t, n, depth);
    if (rv != CKR_OK && c->req.rv == CKR_OK)
        c->req.rv = rv;
}

/* ``fA``: per attribute its type and buffer size (0: NULL or empty); from version 1 a
 * template attribute with a buffer carries its own ``fA`` */
CK_RV sr_wanted(sr_buf *b, const CK_ATTRIBUTE *t, CK_ULONG n, int depth, int nested)
{
    CK_ULONG i;
    if (depth > SR_MAX_DEPTH || n > 0xFFFFFFUL)
        return CKR_TEMPLATE_INCONSISTENT;
    sr_u32(b, (uint32_t)n);
    for (i = 0; i < n; i++) {
        uint32_t size = t[i].pValue == NULL ? 0 : sr_capacity(t[i].ulValueLen);
        if (t[i].type > 0xFFFFFFFFUL)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        sr_u32(b, (uint32_t)t[i].type);
        sr_u32(b, size);
        if (nested && size && sr_attr_cls(t[i].type) == SR_A_TEMPLATE) {
            CK_RV rv = sr_wanted(b, t[i].pValue, t[i].ulValueLen / sizeof(CK_ATTRIBUTE), depth + 1, nested);
            if (rv != CKR_OK)
                return rv;
        }
    }
    return CKR_OK;
}

static void sr_set_length(CK_ATTRIBUTE *a, CK_ULONG len, int *small)
{
    if (a->pValue == NULL)
        a->ulValueLen = len;
    else if (len != 0) {                 /* a real buffer of 0 bytes */
        a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        *small = 1;
    } else
        a->ulValueLen = 0;
}

void sr_answer_value(sr_rd *r, CK_ATTRIBUTE *a, uint32_t len, int depth, int *small)
{
    int query = a == NULL || a->pValue == NULL || a->ulValueLen == 0, cls = sr_attr_cls(a ? a->type : 0);
    const unsigned char *d;
    uint32_t n, i;
    int isnull;

    switch (a == NULL ? -1 : cls) {
    case SR_A_BYTE:
        d = sr_take(r, 1);
        if (r->bad)
            return;
        if (query)
            sr_set_length(a, 1, small);
        else {
            *(CK_BYTE *)a->pValue = d[0];
            a->ulValueLen = 1;
        }
        return;
    case SR_A_ULONG:
        n = (uint32_t)sizeof(CK_ULONG);
        {
            uint64_t v = sr_rd_u64(r);
            CK_ULONG u = (CK_ULONG)v;
            if (r->bad)
                return;
            if (query)
                sr_set_length(a, n, small);
            else if (a->ulValueLen < n) {
                a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
                *small = 1;
            } else {
                memcpy(a->pValue, &u, n);
                a->ulValueLen = n;
            }
        }
        return;
    case SR_A_TEMPLATE:
        n = sr_rd_u32(r);
        if (r->bad || depth >= SR_MAX_DEPTH) {
            r->bad = 1;
            return;
        }
        if (query || n > a->ulValueLen / sizeof(CK_ATTRIBUTE)) {
            for (i = 0; i < n && !r->bad; i++)
                sr_answer_one(r, NULL, depth + 1, small);
            if (query)
                sr_set_length(a, len, small);
            else {
                a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
                *small = 1;
            }
            return;
        }
        for (i = 0; i < n && !r->bad; i++)
            sr_answer_one(r, (CK_ATTRIBUTE *)a->pValue + i, depth + 1, small);
        a->ulValueLen = n * sizeof(CK_ATTRIBUTE);
        return;
    case SR_A_MECHS:
        n = sr_rd_u32(r);
        d = sr_take(r, (size_t)n * 8);
        if (r->bad)
            return;
        if (query)
            sr_set_length(a, len, small);
        else if (n > a->ulValueLen / sizeof(CK_ULONG)) {
            a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
            *small = 1;
        } else {
            for (i = 0; i < n; i++) {
                sr_rd one = { d + (size_t)i * 8, 8, 0 };
                ((CK_ULONG *)a->pValue)[i] = (CK_ULONG)sr_rd_u64(&one);
            }
            a->ulValueLen = n * sizeof(CK_ULONG);
        }
        return;
    case -1:                             /* dropped: the wire class still decides the bytes */
        return;
    default:
        d = sr_rd_array(r, &n, &isnull);
        if (r->bad)
            return;
        if (query)
            sr_set_length(a, len, small);
        else if (n > a->ulValueLen) {
            a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
            *small = 1;
        } else {
            if (n)
                memcpy(a->pValue, d, n);
            a->ulValueLen = n;
        }
    }
}

static void sr_skip_value(sr_rd *r, CK_ATTRIBUTE_TYPE type, int depth, int *small)
{
    uint32_t n, i, len;
    int isnull;
    switch (sr_attr_cls(type)) {
    case SR_A_BYTE: sr_take(r, 1); return;
    case SR_A_ULONG: sr_take(r, 8); return;
    case SR_A_TEMPLATE:
        n = sr_rd_u32(r);
        if (depth >= SR_MAX_DEPTH)
            r->bad = 1;
        for (i = 0; i < n && !r->bad; i++)
            sr_answer_one(r, NULL, depth + 1, small);
        return;
    case SR_A_MECHS: n = sr_rd_u32(r); sr_take(r, (size_t)n * 8); return;
    default: sr_rd_array(r, &len, &isnull);
    }
}

static void sr_answer_one(sr_rd *r, CK_ATTRIBUTE *a, int depth, int *small)
{
    uint32_t type = sr_rd_u32(r), len;
    unsigned valid = sr_rd_u8(r);
    if (r->bad)
        return;
    if (a != NULL && depth > 0)
        a->type = type;                  /* a nested template: the token names the types */
    if (!valid) {
        if (a != NULL)
            a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return;
    }
    len = sr_rd_u32(r);
    if (a == NULL)
        sr_skip_value(r, type, depth, small);
    else
        sr_answer_value(r, a, len, depth, small);
}
