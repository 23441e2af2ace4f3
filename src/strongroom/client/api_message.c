/* libstrongroom-client.so -- message-based functions (v3.0 §5.13-5.17) written by hand:
 * the operation's mechanism remembered per session, the SR_EncryptMessage* forms. */
#include "client.h"

static CK_RV sr_message_init(int kind, CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                             CK_OBJECT_HANDLE hKey)
{
    sr_call c;
    CK_RV rv = kind == SR_MSG_ENCRYPT
        ? sr_begin(&c, SR_ID_C_MessageEncryptInit, SR_REQ_C_MessageEncryptInit, SR_RSP_C_MessageEncryptInit,
                   SR_SESSION, hSession, CKR_DEVICE_REMOVED)
        : sr_begin(&c, SR_ID_C_MessageDecryptInit, SR_REQ_C_MessageDecryptInit, SR_RSP_C_MessageDecryptInit,
                   SR_SESSION, hSession, CKR_DEVICE_REMOVED);
    if (rv != CKR_OK)
        return rv;
    sr_put_mech_as(&c, pMechanism, 1);     /* raw: its parameters come per message */
    sr_put_u(&c, hKey);
    rv = sr_run(&c);
    if (rv == CKR_OK)
        rv = sr_finish(&c);
    if (rv == CKR_OK) {
        sr_session *s;
        pthread_mutex_lock(&g_sess_lock);
        s = sr_session_get(hSession);
        if (s != NULL && s->epoch == c.epoch) {
            s->msg_set[kind] = pMechanism != NULL;
            s->msg[kind] = pMechanism != NULL ? pMechanism->mechanism : 0;
        }
        pthread_mutex_unlock(&g_sess_lock);
    }
    return sr_done(&c, rv);
}

SR_EXPORT CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
    return sr_message_init(SR_MSG_ENCRYPT, hSession, pMechanism, hKey);
}

SR_EXPORT CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
    return sr_message_init(SR_MSG_DECRYPT, hSession, pMechanism, hKey);
}

/* The output of C_EncryptMessage / C_EncryptMessageNext; when the call went as its
 * SR_ form (``back``), the parameter image that precedes it is checked first and its
 * output fields (tag, generated IV) written into the caller's struct only once the call
 * produced its output. */
static void sr_get_output_and_param(sr_call *c, int back, void *param, CK_ULONG param_len,
                                    CK_BYTE_PTR out, CK_ULONG_PTR pout_len)
{
    sr_rd mark, end;
    if (!back) {
        sr_get_ay(c, out, pout_len);
        return;
    }
    mark = c->rd;
    sr_param_back(c, param, param_len, 0);
    sr_get_ay(c, out, pout_len);
    if (!c->rd.bad && c->out_rv == CKR_OK && out != NULL) {
        end = c->rd;
        c->rd = mark;
        sr_param_back(c, param, param_len, 1);
        c->rd = end;
    }
}

SR_EXPORT CK_RV C_EncryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                                 CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen,
                                 CK_BYTE_PTR pPlaintext, CK_ULONG ulPlaintextLen,
                                 CK_BYTE_PTR pCiphertext, CK_ULONG_PTR pulCiphertextLen)
{
    sr_call c;
    CK_RV rv;
    if ((pParameter == NULL && ulParameterLen != 0) || (pAssociatedData == NULL && ulAssociatedDataLen != 0)
        || (pPlaintext == NULL && ulPlaintextLen != 0) || pulCiphertextLen == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = sr_begin(&c, SR_ID_C_EncryptMessage, SR_REQ_C_EncryptMessage, SR_RSP_C_EncryptMessage, SR_SESSION,
                  hSession, CKR_DEVICE_REMOVED);
    if (rv != CKR_OK)
        return rv;
    sr_put_msg_param(&c, SR_MSG_ENCRYPT, pParameter, ulParameterLen);
    sr_put_ay(&c, pAssociatedData, ulAssociatedDataLen);
    sr_put_ay(&c, pPlaintext, ulPlaintextLen);
    sr_put_fy(&c, pCiphertext, pulCiphertextLen);
    rv = sr_run(&c);
    if (rv == CKR_OK) {
        sr_get_output_and_param(&c, c.id == SR_ID_SR_EncryptMessage, pParameter, ulParameterLen,
                                pCiphertext, pulCiphertextLen);
        rv = sr_finish(&c);
    }
    return sr_done(&c, rv);
}

SR_EXPORT CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                                      CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen)
{
    sr_call c;
    CK_RV rv;
    if ((pParameter == NULL && ulParameterLen != 0) || (pAssociatedData == NULL && ulAssociatedDataLen != 0))
        return CKR_ARGUMENTS_BAD;
    rv = sr_begin(&c, SR_ID_C_EncryptMessageBegin, SR_REQ_C_EncryptMessageBegin, SR_RSP_C_EncryptMessageBegin,
                  SR_SESSION, hSession, CKR_DEVICE_REMOVED);
    if (rv != CKR_OK)
        return rv;
    sr_put_msg_param(&c, SR_MSG_ENCRYPT, pParameter, ulParameterLen);
    sr_put_ay(&c, pAssociatedData, ulAssociatedDataLen);
    rv = sr_run(&c);
    if (rv == CKR_OK) {
        if (c.id == SR_ID_SR_EncryptMessageBegin)
            sr_param_back(&c, pParameter, ulParameterLen, 1);
        rv = sr_finish(&c);
    }
    return sr_done(&c, rv);
}

SR_EXPORT CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                                     CK_BYTE_PTR pPlaintextPart, CK_ULONG ulPlaintextPartLen,
                                     CK_BYTE_PTR pCiphertextPart, CK_ULONG_PTR pulCiphertextPartLen,
                                     CK_FLAGS flags)
{
    sr_call c;
    CK_RV rv;
    if ((pParameter == NULL && ulParameterLen != 0) || (pPlaintextPart == NULL && ulPlaintextPartLen != 0)
        || pulCiphertextPartLen == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = sr_begin(&c, SR_ID_C_EncryptMessageNext, SR_REQ_C_EncryptMessageNext, SR_RSP_C_EncryptMessageNext,
                  SR_SESSION, hSession, CKR_DEVICE_REMOVED);
    if (rv != CKR_OK)
        return rv;
    sr_put_msg_param(&c, SR_MSG_ENCRYPT, pParameter, ulParameterLen);
    sr_put_ay(&c, pPlaintextPart, ulPlaintextPartLen);
    sr_put_fy(&c, pCiphertextPart, pulCiphertextPartLen);
    sr_put_u(&c, flags);
    rv = sr_run(&c);
    if (rv == CKR_OK) {
        sr_get_output_and_param(&c, c.id == SR_ID_SR_EncryptMessageNext, pParameter, ulParameterLen,
                                pCiphertextPart, pulCiphertextPartLen);
        rv = sr_finish(&c);
    }
    return sr_done(&c, rv);
}

SR_EXPORT CK_RV C_SignMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                                  CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                                  CK_ULONG_PTR pulSignatureLen)
{
    sr_call c;
    CK_RV rv;
    CK_ULONG none = 0;
    if ((pParameter == NULL && ulParameterLen != 0) || (pData == NULL && ulDataLen != 0))
        return CKR_ARGUMENTS_BAD;
    rv = sr_begin(&c, SR_ID_C_SignMessageNext, SR_REQ_C_SignMessageNext, SR_RSP_C_SignMessageNext, SR_SESSION,
                  hSession, CKR_DEVICE_REMOVED);
    if (rv != CKR_OK)
        return rv;
    sr_put_msg_param(&c, SR_MSG_OTHER, pParameter, ulParameterLen);
    sr_put_ay(&c, pData, ulDataLen);
    sr_put_y(&c, pulSignatureLen != NULL);  /* a signature is expected: the last part */
    sr_put_fy(&c, pulSignatureLen ? pSignature : NULL, pulSignatureLen ? pulSignatureLen : &none);
    rv = sr_run(&c);
    if (rv == CKR_OK) {
        sr_get_ay(&c, pulSignatureLen ? pSignature : NULL, pulSignatureLen ? pulSignatureLen : &none);
        rv = sr_finish(&c);
    }
    return sr_done(&c, rv);
}
