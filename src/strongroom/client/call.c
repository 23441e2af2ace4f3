/* libstrongroom-client.so -- one call: the frame, its round trip on the call's connection
 * (resent where that is safe), the answer's header. */
#include "client.h"

void sr_start(sr_call *c, uint32_t id, const char *req, const char *rsp)
{
    c->id = id;
    c->rsp = rsp;
    sr_bytes(&c->req, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);     /* the frame header, later */
    sr_bytes(&c->req, SR_OPTIONS, sizeof(SR_OPTIONS) - 1);
    sr_u32(&c->req, id);
    sr_array(&c->req, req, strlen(req));
}

CK_RV sr_done(sr_call *c, CK_RV rv)
{
    sr_buf_free(&c->req);
    sr_wipe_free(c->resp, c->resp_len);
    c->resp = NULL;
    if (c->pooled && c->conn != NULL)
        sr_release(c->conn);
    c->conn = NULL;
    c->pooled = 0;
    if (c->app_locked)
        g.app.UnlockMutex(g.app_mutex);
    c->app_locked = 0;
    return rv;
}

int sr_transact(sr_call *c)
{
    unsigned char h[12], skip[256];
    uint32_t code, olen, blen, body = (uint32_t)(c->req.len - 12 - (sizeof(SR_OPTIONS) - 1));
    unsigned char *d = c->req.data;
    sr_conn *k = c->conn;

    sr_wipe_free(c->resp, c->resp_len);  /* a resend's earlier answer */
    c->resp = NULL;
    c->resp_len = 0;
    if (k->fd < 0)
        return SR_T_SENDFAIL;
    code = k->code++;
    if (k->code == 0)
        k->code = 0x10;
    d[0] = (unsigned char)(code >> 24); d[1] = (unsigned char)(code >> 16);
    d[2] = (unsigned char)(code >> 8); d[3] = (unsigned char)code;
    d[4] = 0; d[5] = 0; d[6] = 0; d[7] = (unsigned char)(sizeof(SR_OPTIONS) - 1);
    d[8] = (unsigned char)(body >> 24); d[9] = (unsigned char)(body >> 16);
    d[10] = (unsigned char)(body >> 8); d[11] = (unsigned char)body;
    if (sr_send_all(k->fd, d, c->req.len) < 0)
        return SR_T_SENDFAIL;
    if (sr_recv_all(k->fd, h, 12, c->deadline) < 0)
        return SR_T_LOST;
    olen = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
    blen = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
    if (((uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3]) != code
        || olen > SR_MAX_FRAME || blen > SR_MAX_FRAME - olen)
        return SR_T_LOST;                /* out of step or oversized: the stream is unusable */
    while (olen) {
        uint32_t n = olen < sizeof(skip) ? olen : (uint32_t)sizeof(skip);
        if (sr_recv_all(k->fd, skip, n, c->deadline) < 0)
            return SR_T_LOST;
        olen -= n;
    }
    c->resp = malloc(blen ? blen : 1);
    if (c->resp == NULL)
        return SR_T_LOST;
    c->resp_len = blen;
    if (sr_recv_all(k->fd, c->resp, blen, c->deadline) < 0)
        return SR_T_LOST;
    return SR_T_OK;
}

/* the answer's call id and signature; an error answer's CK_RV */
CK_RV sr_check_answer(sr_call *c)
{
    int isnull;
    uint32_t id, slen;
    const unsigned char *sig;
    c->rd.p = c->resp;
    c->rd.left = c->resp_len;
    id = sr_rd_u32(&c->rd);
    sig = sr_rd_array(&c->rd, &slen, &isnull);
    if (c->rd.bad || isnull)
        return CKR_DEVICE_ERROR;
    if (id == 0) {
        uint64_t rv;
        if (slen != 1 || sig[0] != 'u')
            return CKR_DEVICE_ERROR;
        rv = sr_rd_u64(&c->rd);
        return (c->rd.bad || c->rd.left || rv == 0) ? CKR_DEVICE_ERROR : (CK_RV)rv;
    }
    if (id != c->id || slen != strlen(c->rsp) || memcmp(sig, c->rsp, slen) != 0)
        return CKR_DEVICE_ERROR;
    return CKR_OK;
}

CK_RV sr_finish(sr_call *c)
{
    if (c->rd.bad || c->rd.left)
        return CKR_DEVICE_ERROR;
    return c->out_rv;
}

void sr_out_rv(sr_call *c, CK_RV rv)
{
    if (c->out_rv == CKR_OK)
        c->out_rv = rv;
}

/* one exchange on a connection nobody else can see yet (the C_Initialize and join
 * exchanges): no resend, no pool */
CK_RV sr_run_private(sr_call *c, sr_conn *k)
{
    CK_RV rv;
    c->conn = k;
    if (c->req.rv != CKR_OK)
        rv = c->req.rv;
    else if (sr_transact(c) != SR_T_OK)
        rv = CKR_DEVICE_REMOVED;
    else {
        rv = sr_check_answer(c);
        if (rv == CKR_OK)
            rv = sr_finish(c);
    }
    c->conn = NULL;
    return rv;
}

/* send, receive, check the answer's id and signature; an error answer's CK_RV. A request
 * a joined connection could not take goes on another; the main connection's is sent again
 * once after a reconnect when it is a slot call (nothing reached the service). */
CK_RV sr_run(sr_call *c)
{
    int t, hops = 0;
    CK_RV rv;

    if (c->req.rv != CKR_OK)
        return c->req.rv;
    for (;;) {
        t = sr_transact(c);
        if (t == SR_T_OK)
            break;
        if (c->conn != &g.conns[0]) {
            sr_discard(c->conn);
            c->conn = NULL;
            c->pooled = 0;
            if (t != SR_T_SENDFAIL || hops++ >= SR_POOL_MAX)
                return CKR_DEVICE_REMOVED;
            rv = sr_acquire(c);
            if (rv != CKR_OK)
                return rv;
            continue;
        }
        if (t == SR_T_SENDFAIL && c->mode == SR_SLOT && !c->resent) {
            /* the service went away before it read a byte: safe to resend once */
            c->resent = 1;
            if (sr_reconnect() != CKR_OK)
                return c->fallback;
            continue;
        }
        sr_lose_main();
        return CKR_DEVICE_REMOVED;
    }
    return sr_check_answer(c);
}

CK_RV sr_begin(sr_call *c, uint32_t id, const char *req, const char *rsp, int mode,
                      CK_SESSION_HANDLE h, CK_RV fallback)
{
    CK_RV rv;
    memset(c, 0, sizeof(*c));
    c->mode = mode;
    c->deadline = -1;
    c->fallback = fallback;
    if (!g.initialized || g.pid != getpid())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (g.app_mutex != NULL) {
        if (g.app.LockMutex(g.app_mutex) != CKR_OK)
            return CKR_GENERAL_ERROR;
        c->app_locked = 1;
    }
    if (mode == SR_SESSION) {
        sr_session *s;
        pthread_mutex_lock(&g_sess_lock);
        s = g.initialized ? sr_session_get(h) : NULL;
        if (s != NULL) {
            c->has_sess = 1;
            c->handle = s->client;
            c->server = s->server;
            c->epoch = s->epoch;
            memcpy(c->msg, s->msg, sizeof(c->msg));
            memcpy(c->msg_set, s->msg_set, sizeof(c->msg_set));
        }
        pthread_mutex_unlock(&g_sess_lock);
        if (!c->has_sess)
            return sr_done(c, g.initialized ? CKR_SESSION_HANDLE_INVALID : CKR_CRYPTOKI_NOT_INITIALIZED);
    }
    rv = sr_acquire(c);
    if (rv != CKR_OK)
        return sr_done(c, rv);
    c->version = c->conn->version;
    c->ext = c->conn->ext;
    /* the ids the negotiated protocol selects */
    if (id == SR_ID_C_InitToken && c->version >= 1) {
        id = SR_ID_C_InitToken2; req = SR_REQ_C_InitToken2; rsp = SR_RSP_C_InitToken2;
    } else if (c->ext && id == SR_ID_C_EncryptMessage) {
        id = SR_ID_SR_EncryptMessage; req = SR_REQ_SR_EncryptMessage; rsp = SR_RSP_SR_EncryptMessage;
    } else if (c->ext && id == SR_ID_C_EncryptMessageBegin) {
        id = SR_ID_SR_EncryptMessageBegin; req = SR_REQ_SR_EncryptMessageBegin;
        rsp = SR_RSP_SR_EncryptMessageBegin;
    } else if (c->ext && id == SR_ID_C_EncryptMessageNext) {
        id = SR_ID_SR_EncryptMessageNext; req = SR_REQ_SR_EncryptMessageNext;
        rsp = SR_RSP_SR_EncryptMessageNext;
    }
    if (id >= SR_EXTENSION_BASE && !c->ext)
        return sr_done(c, CKR_FUNCTION_NOT_SUPPORTED);
    sr_start(c, id, req, rsp);
    if (c->has_sess)
        sr_u64(&c->req, c->server);
    return CKR_OK;
}
