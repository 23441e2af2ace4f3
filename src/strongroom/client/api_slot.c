/* libstrongroom-client.so -- slot and token management (v2.40 §5.5) written by hand:
 * C_GetSlotList, C_InitToken, C_WaitForSlotEvent. */
#include "client.h"

SR_EXPORT CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount)
{
    sr_call c;
    CK_RV rv;
    if (pulCount == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = sr_begin(&c, SR_ID_C_GetSlotList, SR_REQ_C_GetSlotList, SR_RSP_C_GetSlotList, SR_SLOT, 0,
                  SR_UNREACHABLE);
    if (rv == SR_UNREACHABLE) {
        *pulCount = 0;
        return CKR_OK;
    }
    if (rv != CKR_OK)
        return rv;
    sr_put_y(&c, tokenPresent);
    sr_put_fu(&c, pSlotList, pSlotList ? *pulCount : 0);
    rv = sr_run(&c);
    if (rv == SR_UNREACHABLE) {
        *pulCount = 0;
        return sr_done(&c, CKR_OK);
    }
    if (rv == CKR_OK) {
        sr_get_au(&c, pSlotList, *pulCount, pulCount, 0);
        rv = sr_finish(&c);
    }
    return sr_done(&c, rv);
}

SR_EXPORT CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pLabel)
{
    sr_call c;
    CK_RV rv;
    if (pLabel == NULL || (pPin == NULL && ulPinLen != 0))
        return CKR_ARGUMENTS_BAD;
    rv = sr_begin(&c, SR_ID_C_InitToken, SR_REQ_C_InitToken, SR_RSP_C_InitToken, SR_SLOT, 0,
                  CKR_SLOT_ID_INVALID);
    if (rv != CKR_OK)
        return rv;
    sr_put_u(&c, slotID);
    sr_put_ay(&c, pPin, ulPinLen);
    if (c.id == SR_ID_C_InitToken2)
        sr_put_s(&c, pLabel, 32);
    else
        sr_put_z(&c, pLabel, 32);
    rv = sr_run(&c);
    if (rv == CKR_OK)
        rv = sr_finish(&c);
    return sr_done(&c, rv);
}

SR_EXPORT CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
    sr_call c;
    CK_RV rv;
    if (pSlot == NULL || pReserved != NULL)
        return CKR_ARGUMENTS_BAD;
    /* a blocking wait would hold a connection (without a pool: the only one) for good */
    if (!(flags & CKF_DONT_BLOCK))
        return g.initialized ? CKR_FUNCTION_NOT_SUPPORTED : CKR_CRYPTOKI_NOT_INITIALIZED;
    rv = sr_begin(&c, SR_ID_C_WaitForSlotEvent, SR_REQ_C_WaitForSlotEvent, SR_RSP_C_WaitForSlotEvent, SR_SLOT,
                  0, CKR_NO_EVENT);
    if (rv != CKR_OK)
        return rv;
    sr_put_u(&c, flags);
    rv = sr_run(&c);
    if (rv == CKR_OK) {
        sr_get_u(&c, pSlot);
        rv = sr_finish(&c);
    }
    return sr_done(&c, rv);
}
