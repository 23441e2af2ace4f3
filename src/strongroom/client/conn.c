/* libstrongroom-client.so -- opening connections: the main one (C_Initialize exchange), a
 * joined one (SR_JoinApplication), and the ticket that joining takes
 * (SR_ApplicationTicket). */
#include "client.h"

static const char sr_handshake[] = "PRIVATE-GNOME-KEYRING-PKCS11-PROTOCOL-V-1";

/* (re)connect the main connection and run the C_Initialize exchange. The caller holds
 * conns[0] (busy) or is C_Initialize; g_pool_lock is not held. A new epoch: the sessions
 * of the old one are gone, the joined connections stale. */
CK_RV sr_reconnect(void)
{
    sr_call c;
    sr_conn k;
    CK_RV rv;
    int version = 0, fd, err;

    sr_lose_main();
    fd = sr_dial(g.path, SR_OFFER, &version);
    if (fd < 0 && (errno == ECONNRESET || errno == EPIPE))
        fd = sr_dial(g.path, 0, &version);   /* a server that only takes version 0 hung up */
    if (fd < 0)
        return SR_UNREACHABLE;
    if (version != SR_OFFER && version > 2) {
        close(fd);
        return CKR_DEVICE_ERROR;
    }
    memset(&k, 0, sizeof(k));
    k.fd = fd;
    k.code = 0x10;
    k.version = version;
    k.ext = version == SR_OFFER;
    memset(&c, 0, sizeof(c));
    c.mode = SR_PLAIN;
    c.deadline = sr_now_ms() + 30000L;   /* the service's own C_Initialize */
    sr_start(&c, SR_ID_C_Initialize, SR_REQ_C_Initialize, SR_RSP_C_Initialize);
    sr_u8(&c.req, 1);
    sr_array(&c.req, sr_handshake, sizeof(sr_handshake) - 1);
    sr_u8(&c.req, 0);
    sr_u8(&c.req, 1);
    sr_array(&c.req, "", 1);
    rv = sr_run_private(&c, &k);
    err = errno;
    sr_done(&c, rv);
    if (rv != CKR_OK) {
        close(fd);
        errno = err;
        return rv == CKR_DEVICE_REMOVED ? SR_UNREACHABLE : rv;
    }
    pthread_mutex_lock(&g_pool_lock);
    pthread_mutex_lock(&g_sess_lock);
    g.epoch++;
    k.epoch = g.epoch;
    k.busy = g.conns[0].busy;
    g.conns[0] = k;
    g.connected = 1;
    sr_sessions_purge_old();
    pthread_mutex_unlock(&g_sess_lock);
    pthread_cond_broadcast(&g_pool_cond);
    pthread_mutex_unlock(&g_pool_lock);
    return CKR_OK;
}

/* dial a connection into this application: the version byte, then SR_JoinApplication
 * as its first call; CKR_OK and *out, or why not */
CK_RV sr_join(const char *path, const unsigned char *ticket, sr_conn *out)
{
    sr_call c;
    CK_RV rv;
    int version = 0, fd = sr_dial(path, SR_OFFER, &version);
    if (fd < 0)
        return SR_UNREACHABLE;
    if (version != SR_OFFER) {           /* not the service that gave the ticket */
        close(fd);
        return CKR_DEVICE_ERROR;
    }
    memset(out, 0, sizeof(*out));
    out->fd = fd;
    out->code = 0x10;
    out->version = version;
    out->ext = 1;
    memset(&c, 0, sizeof(c));
    c.mode = SR_PLAIN;
    c.deadline = sr_now_ms() + g.timeout_ms;
    sr_start(&c, SR_ID_SR_JoinApplication, SR_REQ_SR_JoinApplication, SR_RSP_SR_JoinApplication);
    sr_u8(&c.req, 1);
    sr_array(&c.req, ticket, SR_TICKET_LEN);
    rv = sr_run_private(&c, out);
    sr_done(&c, rv);                     /* wipes the request: the ticket */
    if (rv != CKR_OK) {
        close(fd);
        out->fd = -1;
    }
    return rv;
}

/* SR_ApplicationTicket on the connection the call holds (the first time two calls
 * overlapped): the ticket and the join socket remembered for this epoch. A refusal or an
 * answer that is not a ticket turns the pool off until the next epoch; a transport
 * failure closes the connection (the caller's own call then takes the broken-connection
 * path). */
void sr_fetch_ticket(sr_conn *k)
{
    sr_call c;
    CK_RV rv;
    int t, isnull, ok = 0;
    uint32_t tlen = 0, plen = 0;
    const unsigned char *ticket = NULL, *path = NULL;

    memset(&c, 0, sizeof(c));
    c.mode = SR_PLAIN;
    c.deadline = -1;
    c.conn = k;
    sr_start(&c, SR_ID_SR_ApplicationTicket, SR_REQ_SR_ApplicationTicket, SR_RSP_SR_ApplicationTicket);
    t = c.req.rv == CKR_OK ? sr_transact(&c) : SR_T_SENDFAIL;
    if (t == SR_T_OK) {
        rv = sr_check_answer(&c);
        if (rv == CKR_OK) {
            if (sr_rd_u8(&c.rd) != 1)
                c.rd.bad = 1;
            ticket = sr_rd_array(&c.rd, &tlen, &isnull);
            if (sr_rd_u8(&c.rd) != 1)
                c.rd.bad = 1;
            path = sr_rd_array(&c.rd, &plen, &isnull);
            ok = sr_finish(&c) == CKR_OK && tlen == SR_TICKET_LEN && plen < sizeof(g.join_path)
                 && (plen == 0 || (path[0] == '/' && memchr(path, 0, plen) == NULL));
        }
    }
    pthread_mutex_lock(&g_pool_lock);
    g.fetching = 0;
    if (t != SR_T_OK) {
        if (k->fd >= 0)
            close(k->fd);
        k->fd = -1;
        g.join_after = sr_now_ms() + SR_JOIN_BACKOFF_MS;
    } else if (k->epoch == g.epoch && !ok) {
        g.pool_off = 1;
    } else if (k->epoch == g.epoch) {
        memcpy(g.ticket, ticket, SR_TICKET_LEN);
        if (plen)
            memcpy(g.join_path, path, plen);
        g.join_path[plen] = 0;
        g.have_ticket = 1;
    }
    pthread_cond_broadcast(&g_pool_cond);
    pthread_mutex_unlock(&g_pool_lock);
    c.conn = NULL;
    sr_done(&c, CKR_OK);                 /* wipes the answer: the ticket */
}
