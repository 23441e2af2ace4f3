/* libstrongroom-client.so -- response values: scalars, byte arrays and lists under the
 * two-call convention, the info records. */
#include "client.h"

void sr_get_u(sr_call *c, CK_ULONG *p)
{
    uint64_t v = sr_rd_u64(&c->rd);
    if (!c->rd.bad)
        *p = (CK_ULONG)v;
}

/* ``ay`` into the caller's buffer under the two-call convention (v2.40 §5.2) */
void sr_get_ay(sr_call *c, CK_BYTE *p, CK_ULONG *pn)
{
    unsigned valid = sr_rd_u8(&c->rd);
    uint32_t len;
    int isnull;
    const unsigned char *d;
    if (valid == 0) {                    /* "length only": a size query's or a short buffer's */
        len = sr_rd_u32(&c->rd);
        if (c->rd.bad)
            return;
        *pn = len;
        if (p != NULL)
            sr_out_rv(c, CKR_BUFFER_TOO_SMALL);
        return;
    }
    d = sr_rd_array(&c->rd, &len, &isnull);
    if (c->rd.bad)
        return;
    if (p == NULL) {
        *pn = len;
    } else if (len > *pn) {
        *pn = len;
        sr_out_rv(c, CKR_BUFFER_TOO_SMALL);
    } else {
        if (len)
            memcpy(p, d, len);
        *pn = len;
    }
}

void sr_get_ay_fixed(sr_call *c, CK_BYTE *p, CK_ULONG n)
{
    uint32_t len;
    int isnull;
    const unsigned char *d;
    if (sr_rd_u8(&c->rd) != 1) {
        c->rd.bad = 1;
        return;
    }
    d = sr_rd_array(&c->rd, &len, &isnull);
    if (c->rd.bad || (n != 0 && len != n) || (n == 0 && len != 0)) {
        c->rd.bad = 1;
        return;
    }
    if (len)
        memcpy(p, d, len);
}

void sr_get_au(sr_call *c, CK_ULONG *p, CK_ULONG cap, CK_ULONG *pcount, int exact)
{
    unsigned valid = sr_rd_u8(&c->rd);
    uint32_t n = sr_rd_u32(&c->rd), i;
    const unsigned char *d = NULL;
    if (valid && !c->rd.bad)
        d = sr_take(&c->rd, (size_t)n * 8);
    if (c->rd.bad)
        return;
    if (!valid || p == NULL) {
        *pcount = n;
        if (!valid && p != NULL)
            sr_out_rv(c, CKR_BUFFER_TOO_SMALL);
        return;
    }
    if (n > cap) {
        if (exact) {                     /* C_FindObjects: more than asked for */
            c->rd.bad = 1;
            return;
        }
        *pcount = n;
        sr_out_rv(c, CKR_BUFFER_TOO_SMALL);
        return;
    }
    for (i = 0; i < n; i++) {
        sr_rd r = { d + (size_t)i * 8, 8, 0 };
        p[i] = (CK_ULONG)sr_rd_u64(&r);
    }
    *pcount = n;
}

static void sr_get_s(sr_call *c, CK_UTF8CHAR *dst, size_t width)
{
    uint32_t len;
    int isnull;
    const unsigned char *d = sr_rd_array(&c->rd, &len, &isnull);
    if (c->rd.bad || len != width) {
        c->rd.bad = 1;
        return;
    }
    memcpy(dst, d, width);
}

static void sr_get_v(sr_call *c, CK_VERSION *v)
{
    v->major = (CK_BYTE)sr_rd_u8(&c->rd);
    v->minor = (CK_BYTE)sr_rd_u8(&c->rd);
}

void sr_get_info(sr_call *c, CK_INFO *p)
{
    CK_INFO i;
    memset(&i, 0, sizeof(i));
    sr_get_v(c, &i.cryptokiVersion);
    sr_get_s(c, i.manufacturerID, 32);
    sr_get_u(c, &i.flags);
    sr_get_s(c, i.libraryDescription, 32);
    sr_get_v(c, &i.libraryVersion);
    if (!c->rd.bad)
        *p = i;
}

void sr_get_slot_info(sr_call *c, CK_SLOT_INFO *p)
{
    CK_SLOT_INFO i;
    memset(&i, 0, sizeof(i));
    sr_get_s(c, i.slotDescription, 64);
    sr_get_s(c, i.manufacturerID, 32);
    sr_get_u(c, &i.flags);
    sr_get_v(c, &i.hardwareVersion);
    sr_get_v(c, &i.firmwareVersion);
    if (!c->rd.bad)
        *p = i;
}

void sr_get_token_info(sr_call *c, CK_TOKEN_INFO *p)
{
    CK_TOKEN_INFO i;
    memset(&i, 0, sizeof(i));
    sr_get_s(c, i.label, 32);
    sr_get_s(c, i.manufacturerID, 32);
    sr_get_s(c, i.model, 16);
    sr_get_s(c, i.serialNumber, 16);
    sr_get_u(c, &i.flags);
    sr_get_u(c, &i.ulMaxSessionCount);
    sr_get_u(c, &i.ulSessionCount);
    sr_get_u(c, &i.ulMaxRwSessionCount);
    sr_get_u(c, &i.ulRwSessionCount);
    sr_get_u(c, &i.ulMaxPinLen);
    sr_get_u(c, &i.ulMinPinLen);
    sr_get_u(c, &i.ulTotalPublicMemory);
    sr_get_u(c, &i.ulFreePublicMemory);
    sr_get_u(c, &i.ulTotalPrivateMemory);
    sr_get_u(c, &i.ulFreePrivateMemory);
    sr_get_v(c, &i.hardwareVersion);
    sr_get_v(c, &i.firmwareVersion);
    sr_get_s(c, i.utcTime, 16);
    if (!c->rd.bad)
        *p = i;
}

void sr_get_session_info(sr_call *c, CK_SESSION_INFO *p)
{
    CK_SESSION_INFO i;
    sr_get_u(c, &i.slotID);
    sr_get_u(c, &i.state);
    sr_get_u(c, &i.flags);
    sr_get_u(c, &i.ulDeviceError);
    if (!c->rd.bad)
        *p = i;
}

void sr_get_mechanism_info(sr_call *c, CK_MECHANISM_INFO *p)
{
    CK_MECHANISM_INFO i;
    sr_get_u(c, &i.ulMinKeySize);
    sr_get_u(c, &i.ulMaxKeySize);
    sr_get_u(c, &i.flags);
    if (!c->rd.bad)
        *p = i;
}

void sr_get_token_usage(sr_call *c, SR_TOKEN_USAGE *p)
{
    SR_TOKEN_USAGE u;
    sr_get_u(c, &u.ulObjects);
    sr_get_u(c, &u.ulBytesUsed);
    sr_get_u(c, &u.ulQuotaObjects);
    sr_get_u(c, &u.ulQuotaBytes);
    sr_get_u(c, &u.ulUserPinFailures);
    sr_get_u(c, &u.ulSoPinFailures);
    sr_get_u(c, &u.ulPinMaxTries);
    if (!c->rd.bad)
        *p = u;
}
