/* libstrongroom-client.so -- session management (v2.40 §5.6) written by hand: the client's
 * session table follows the service's answers. */
#include "client.h"

SR_EXPORT CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication, CK_NOTIFY Notify,
                              CK_SESSION_HANDLE_PTR phSession)
{
    sr_call c;
    CK_RV rv;
    CK_ULONG server = 0;
    unsigned long epoch;
    int room;
    (void)pApplication;                  /* notifications are not carried: never called */
    (void)Notify;
    if (phSession == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = sr_begin(&c, SR_ID_C_OpenSession, SR_REQ_C_OpenSession, SR_RSP_C_OpenSession, SR_SLOT, 0,
                  CKR_SLOT_ID_INVALID);
    if (rv != CKR_OK)
        return rv;
    pthread_mutex_lock(&g_sess_lock);
    room = sr_session_room();
    pthread_mutex_unlock(&g_sess_lock);
    if (!room)
        return sr_done(&c, CKR_HOST_MEMORY);
    sr_put_u(&c, slotID);
    sr_put_u(&c, flags);
    rv = sr_run(&c);
    if (rv == CKR_OK) {
        sr_get_u(&c, &server);
        rv = sr_finish(&c);
    }
    if (rv == CKR_OK) {
        pthread_mutex_lock(&g_sess_lock);
        epoch = c.conn->epoch;           /* the connection that carried it */
        if (epoch != g.epoch)
            rv = CKR_DEVICE_REMOVED;     /* its application was lost meanwhile */
        else if (!sr_session_room())
            rv = CKR_HOST_MEMORY;
        else {
            sr_session *s = &g.sess[g.nsess++];
            memset(s, 0, sizeof(*s));
            s->client = g_next_handle++;
            s->server = server;
            s->slot = slotID;
            s->epoch = epoch;
            *phSession = s->client;
        }
        pthread_mutex_unlock(&g_sess_lock);
    }
    return sr_done(&c, rv);
}

SR_EXPORT CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
    sr_call c;
    CK_RV rv = sr_begin(&c, SR_ID_C_CloseSession, SR_REQ_C_CloseSession, SR_RSP_C_CloseSession, SR_SESSION,
                        hSession, CKR_DEVICE_REMOVED);
    if (rv == CKR_DEVICE_REMOVED)        /* its connection is gone, and the session with it */
        sr_session_forget(hSession);
    if (rv != CKR_OK)
        return rv;
    rv = sr_run(&c);
    if (rv == CKR_OK)
        rv = sr_finish(&c);
    if (rv == CKR_OK || rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || rv == CKR_DEVICE_REMOVED)
        sr_session_forget(hSession);
    return sr_done(&c, rv);
}

SR_EXPORT CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
    sr_call c;
    CK_RV rv = sr_begin(&c, SR_ID_C_CloseAllSessions, SR_REQ_C_CloseAllSessions, SR_RSP_C_CloseAllSessions,
                        SR_SLOT, 0, CKR_SLOT_ID_INVALID);
    size_t i = 0;
    if (rv != CKR_OK)
        return rv;
    sr_put_u(&c, slotID);
    rv = sr_run(&c);
    if (rv == CKR_OK)
        rv = sr_finish(&c);
    if (rv == CKR_OK) {
        pthread_mutex_lock(&g_sess_lock);
        while (i < g.nsess) {
            if (g.sess[i].slot == slotID)
                sr_session_remove(&g.sess[i]);
            else
                i++;
        }
        pthread_mutex_unlock(&g_sess_lock);
    }
    return sr_done(&c, rv);
}
