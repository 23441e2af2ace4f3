/* libstrongroom-client.so -- request values: scalars, byte arrays, output-buffer sizes,
 * strings. */
#include "client.h"

/* ---- request values --------------------------------------------------------------- */
void sr_put_u(sr_call *c, CK_ULONG v) { sr_u64(&c->req, v); }

void sr_put_y(sr_call *c, CK_ULONG v) { sr_u8(&c->req, (unsigned)(v & 0xFF)); }

void sr_put_ay(sr_call *c, const void *p, CK_ULONG n)
{
    sr_u8(&c->req, 1);
    sr_array(&c->req, p, n);
}

uint32_t sr_capacity(CK_ULONG n)
{
    return n > SR_MAX_FRAME ? SR_MAX_FRAME : (uint32_t)n;
}

/* an output buffer: 0 for NULL (a size query), 0xFFFFFFFF for a real buffer of 0 bytes */
void sr_put_fy(sr_call *c, const void *p, const CK_ULONG *pn)
{
    sr_u32(&c->req, p == NULL ? 0 : (*pn == 0 ? SR_NULL_ARRAY : sr_capacity(*pn)));
}

void sr_put_fy_fixed(sr_call *c, CK_ULONG n)
{
    sr_u32(&c->req, n == 0 ? SR_NULL_ARRAY : sr_capacity(n));
}

void sr_put_fu(sr_call *c, const void *p, CK_ULONG cap)
{
    sr_u32(&c->req, p == NULL ? 0 : sr_capacity(cap));
}

void sr_put_s(sr_call *c, const CK_UTF8CHAR *p, size_t width)
{
    sr_array(&c->req, p, width);
}

void sr_put_z(sr_call *c, const CK_UTF8CHAR *p, size_t max)
{
    size_t n = 0;
    while (n < max && p[n] != 0)
        n++;
    sr_array(&c->req, p, n);
}
