/* libstrongroom-client.so -- object management (v2.40 §5.7) written by hand:
 * C_GetAttributeValue. */
#include "client.h"

SR_EXPORT CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    sr_call c;
    CK_RV rv;
    CK_ULONG i;
    int small = 0;
    if (pTemplate == NULL && ulCount != 0)
        return CKR_ARGUMENTS_BAD;
    rv = sr_begin(&c, SR_ID_C_GetAttributeValue, SR_REQ_C_GetAttributeValue, SR_RSP_C_GetAttributeValue,
                  SR_SESSION, hSession, CKR_DEVICE_REMOVED);
    if (rv != CKR_OK)
        return rv;
    sr_put_u(&c, hObject);
    rv = sr_wanted(&c.req, pTemplate, ulCount, 0, c.version >= 1);
    if (rv != CKR_OK)
        return sr_done(&c, rv);
    rv = sr_run(&c);
    if (rv != CKR_OK)
        return sr_done(&c, rv);
    if (sr_rd_u32(&c.rd) != ulCount)
        c.rd.bad = 1;
    for (i = 0; i < ulCount && !c.rd.bad; i++) {
        uint32_t type = sr_rd_u32(&c.rd), len;
        unsigned valid;
        if (type != pTemplate[i].type) {
            c.rd.bad = 1;
            break;
        }
        valid = sr_rd_u8(&c.rd);
        if (!valid) {
            pTemplate[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            continue;
        }
        len = sr_rd_u32(&c.rd);
        if (!c.rd.bad)
            sr_answer_value(&c.rd, &pTemplate[i], len, 0, &small);
    }
    rv = (CK_RV)sr_rd_u64(&c.rd);
    if (c.rd.bad || c.rd.left)
        return sr_done(&c, CKR_DEVICE_ERROR);
    if (rv == CKR_OK && small)
        rv = CKR_BUFFER_TOO_SMALL;       /* the service's answer overflowed a buffer */
    return sr_done(&c, rv);
}
