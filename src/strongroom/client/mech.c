/* libstrongroom-client.so -- mechanisms and their parameters, flattened by the generated
 * layout rows; the per-message parameters and what an SR_EncryptMessage* answer carries
 * back. */
#include "client.h"

/* a struct parameter flattened by its layout rows (docs/protocol.md "Mechanisms") */
static CK_RV sr_flatten(sr_buf *b, const sr_layout *lay, const void *param, CK_ULONG len)
{
    const unsigned char *base = param;
    unsigned i;
    if (param == NULL || len != lay->size)
        return CKR_MECHANISM_PARAM_INVALID;
    for (i = 0; i < lay->count; i++) {
        const sr_field *f = sr_layout_field(lay, i);
        CK_ULONG u = 0, n = 0;
        const void *ptr = NULL;
        if (f->kind == SR_F_ULONG) {
            memcpy(&u, base + f->off, sizeof(u));
            sr_u64(b, u);
            continue;
        }
        if (f->kind == SR_F_BOOL) {
            sr_u8(b, base[f->off]);
            continue;
        }
        if (f->kind == SR_F_INLINE) {
            sr_array(b, base + f->off, f->size);
            continue;
        }
        memcpy(&ptr, base + f->off, sizeof(ptr));
        if (f->kind == SR_F_BYTES)
            memcpy(&n, base + f->len_off, sizeof(n));
        else if (f->kind == SR_F_FIXED)
            n = f->size;
        else {                           /* SR_F_BITS */
            memcpy(&n, base + f->len_off, sizeof(n));
            n = n / 8 + (n % 8 != 0);
        }
        if (ptr == NULL && f->kind == SR_F_BYTES && n != 0)
            return CKR_MECHANISM_PARAM_INVALID;
        sr_array(b, ptr, ptr == NULL ? 0 : n);
    }
    return CKR_OK;
}

/* ``raw``: the parameter as one byte array whatever the mechanism (the message-based
 * init calls, whose mechanisms take their parameters per message). On extension level 1
 * a struct parameter is preceded by a presence byte: 0 alone for no parameter (pParameter
 * NULL, ulParameterLen 0 -- CKM_EDDSA, CKM_ML_DSA take it so), 1 before the struct. */
void sr_put_mech_as(sr_call *c, const CK_MECHANISM *m, int raw)
{
    const sr_layout *lay;
    CK_RV rv = CKR_OK;
    if (m == NULL) {
        sr_u32(&c->req, SR_NULL_ARRAY);
        return;
    }
    if (m->mechanism >= 0xFFFFFFFFUL) {
        c->req.rv = c->req.rv ? c->req.rv : CKR_MECHANISM_INVALID;
        return;
    }
    sr_u32(&c->req, (uint32_t)m->mechanism);
    lay = raw ? NULL : sr_mech_layout(m->mechanism);
    if (lay == NULL || lay->form == SR_P_RAW) {
        if (m->pParameter == NULL && m->ulParameterLen != 0)
            rv = CKR_MECHANISM_PARAM_INVALID;
        else
            sr_array(&c->req, m->pParameter, m->ulParameterLen);
    } else if (lay->form == SR_P_ULONG) {
        CK_ULONG v = 0;
        if (m->pParameter == NULL || m->ulParameterLen != sizeof(CK_ULONG))
            rv = CKR_MECHANISM_PARAM_INVALID;
        else
            memcpy(&v, m->pParameter, sizeof(v));
        sr_u64(&c->req, v);
    } else if (c->ext && m->pParameter == NULL && m->ulParameterLen == 0) {
        sr_u8(&c->req, 0);               /* no parameter: the mechanism decides */
    } else {
        if (c->ext)
            sr_u8(&c->req, 1);
        rv = sr_flatten(&c->req, lay, m->pParameter, m->ulParameterLen);
    }
    if (rv != CKR_OK && c->req.rv == CKR_OK)
        c->req.rv = rv;
}

void sr_put_mech(sr_call *c, const CK_MECHANISM *m)
{
    sr_put_mech_as(c, m, 0);
}

static const sr_layout *sr_msg_layout(sr_call *c, int kind)
{
    if (kind > SR_MSG_DECRYPT || !c->has_sess || !c->msg_set[kind])
        return NULL;
    return sr_msg_param_layout(c->msg[kind]);
}

/* a per-message parameter: flattened by its layout when the operation's mechanism has one */
void sr_put_msg_param(sr_call *c, int kind, const void *p, CK_ULONG n)
{
    const sr_layout *lay = sr_msg_layout(c, kind);
    sr_buf tmp = { 0 };
    CK_RV rv;
    if (lay == NULL || lay->form != SR_P_STRUCT) {
        sr_put_ay(c, p, n);
        return;
    }
    rv = sr_flatten(&tmp, lay, p, n);
    if (rv == CKR_OK)
        rv = tmp.rv;
    if (rv == CKR_OK)
        sr_put_ay(c, tmp.data, tmp.len);
    else if (c->req.rv == CKR_OK)
        c->req.rv = rv;
    sr_buf_free(&tmp);
}

/* The parameter an SR_EncryptMessage* answer carries back: read (and checked) always,
 * its output fields (rows with out=True) written into the caller's struct when
 * ``apply`` (the call produced its output). */
void sr_param_back(sr_call *c, void *param, CK_ULONG len, int apply)
{
    const sr_layout *lay = sr_msg_layout(c, SR_MSG_ENCRYPT);
    uint32_t n, flen;
    int isnull, pass;
    const unsigned char *image;
    unsigned char *base = param;
    unsigned i;

    if (sr_rd_u8(&c->rd) != 1) {
        c->rd.bad = 1;
        return;
    }
    image = sr_rd_array(&c->rd, &n, &isnull);
    if (c->rd.bad || lay == NULL || lay->form != SR_P_STRUCT)
        return;                          /* nothing of a raw parameter comes back */
    if (isnull || param == NULL || len != lay->size) {
        c->rd.bad = 1;
        return;
    }
    for (pass = 0; pass < 2; pass++) {   /* check everything, then write */
        sr_rd r = { image, n, 0 };
        for (i = 0; i < lay->count && !r.bad; i++) {
            const sr_field *f = sr_layout_field(lay, i);
            const unsigned char *d;
            void *ptr = NULL;
            CK_ULONG cap = f->size;
            if (f->kind == SR_F_ULONG) {
                sr_take(&r, 8);
                continue;
            }
            if (f->kind == SR_F_BOOL) {
                sr_take(&r, 1);
                continue;
            }
            d = sr_rd_array(&r, &flen, &isnull);
            if (r.bad || !f->out || f->kind == SR_F_INLINE)
                continue;
            memcpy(&ptr, base + f->off, sizeof(ptr));
            if (f->kind == SR_F_BYTES || f->kind == SR_F_BITS) {
                memcpy(&cap, base + f->len_off, sizeof(cap));
                if (f->kind == SR_F_BITS)
                    cap = cap / 8 + (cap % 8 != 0);
            }
            if (flen > cap || (ptr == NULL && flen != 0)) {
                r.bad = 1;
                break;
            }
            if (pass == 1 && apply && flen)
                memcpy(ptr, d, flen);
        }
        if (r.bad || r.left) {
            c->rd.bad = 1;
            return;
        }
    }
}
