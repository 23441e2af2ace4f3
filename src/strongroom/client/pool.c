/* libstrongroom-client.so -- the connection pool: the module's state, a free connection
 * per call, the main connection's loss, fork. */
#include "client.h"

struct sr_state g;
CK_SESSION_HANDLE g_next_handle = 1;
pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t g_pool_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t g_pool_cond = PTHREAD_COND_INITIALIZER;
pthread_mutex_t g_sess_lock = PTHREAD_MUTEX_INITIALIZER;

static void sr_lose_main_locked(void);

static void sr_forget_ticket(void)
{
    explicit_bzero(g.ticket, sizeof(g.ticket));
    g.have_ticket = 0;
    g.join_path[0] = 0;
}

/* every connection closed without a byte written, the pool empty (no call may hold one) */
void sr_pool_clear(void)
{
    int i;
    for (i = 0; i < SR_POOL_MAX; i++) {
        if (g.conns[i].fd >= 0)
            close(g.conns[i].fd);
        memset(&g.conns[i], 0, sizeof(g.conns[i]));
        g.conns[i].fd = -1;
    }
    g.nconns = 1;
    g.connected = 0;
    g.growing = g.fetching = g.pool_off = 0;
    g.join_after = 0;
    sr_forget_ticket();
}

static void sr_atfork_child(void)
{
    /* the parent's connections are not ours: closed without a byte written; its ticket
     * names the parent's application and is forgotten */
    sr_pool_clear();
    g.initialized = 0;
    g.finalizing = 0;
    g.app_mutex = NULL;
    g.sess = NULL;                      /* may be mid-update in the parent: leaked, not freed */
    g.nsess = g.capsess = 0;
    pthread_mutex_init(&g_init_lock, NULL);
    pthread_mutex_init(&g_pool_lock, NULL);
    pthread_cond_init(&g_pool_cond, NULL);
    pthread_mutex_init(&g_sess_lock, NULL);
}

__attribute__((constructor)) static void sr_load(void)
{
    int i;
    for (i = 0; i < SR_POOL_MAX; i++)
        g.conns[i].fd = -1;
    g.nconns = 1;
    pthread_atfork(NULL, NULL, sr_atfork_child);
}

/* a call gives its connection back; a joined one that went stale (its application was
 * lost meanwhile) is closed now */
void sr_release(sr_conn *k)
{
    pthread_mutex_lock(&g_pool_lock);
    k->busy = 0;
    if (k == &g.conns[0] && k->fd < 0 && g.connected)
        sr_lose_main_locked();           /* it broke under its holder (a ticket's exchange) */
    if (k != &g.conns[0] && k->fd >= 0 && (k->stale || k->epoch != g.epoch)) {
        close(k->fd);
        k->fd = -1;
    }
    pthread_cond_broadcast(&g_pool_cond);
    pthread_mutex_unlock(&g_pool_lock);
}

/* a joined connection broke: closed and out of the pool (its holder lets it go) */
void sr_discard(sr_conn *k)
{
    pthread_mutex_lock(&g_pool_lock);
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
    k->busy = 0;
    pthread_cond_broadcast(&g_pool_cond);
    pthread_mutex_unlock(&g_pool_lock);
}

/* the main connection is gone, and the application with it: every joined connection is
 * stale (the idle ones closed now), the ticket forgotten; g_pool_lock held */
static void sr_lose_main_locked(void)
{
    int i;
    if (g.conns[0].fd >= 0)
        close(g.conns[0].fd);
    g.conns[0].fd = -1;
    g.connected = 0;
    for (i = 1; i < g.nconns; i++) {
        sr_conn *k = &g.conns[i];
        if (k->fd < 0)
            continue;
        k->stale = 1;
        if (!k->busy) {
            close(k->fd);
            k->fd = -1;
        }
    }
    sr_forget_ticket();
    g.pool_off = 0;
    g.join_after = 0;
    pthread_cond_broadcast(&g_pool_cond);
}

void sr_lose_main(void)
{
    pthread_mutex_lock(&g_pool_lock);
    sr_lose_main_locked();
    pthread_mutex_unlock(&g_pool_lock);
}

/* g_pool_lock held: may this call dial one more connection? */
static int sr_may_grow(void)
{
    int i, used = 0;
    if (g.pool_max <= 1 || !g.conns[0].ext || g.pool_off || !g.have_ticket || g.growing
        || sr_now_ms() < g.join_after)
        return 0;
    for (i = 0; i < g.nconns; i++)
        used += g.conns[i].fd >= 0 || g.conns[i].busy;
    return used < g.pool_max;
}

/* A connection for the call (c->conn, held until sr_done): a free one of this epoch, else
 * a new one joined when the pool may grow, else the first that comes free. A slot call
 * reconnects a lost main connection; a session call of a lost one is CKR_DEVICE_REMOVED. */
CK_RV sr_acquire(sr_call *c)
{
    CK_RV rv = CKR_OK;
    int fetch = 0, i;

    pthread_mutex_lock(&g_pool_lock);
    for (;;) {
        sr_conn *k = NULL;
        if (!g.initialized || g.finalizing || g.pid != getpid()) {
            rv = CKR_CRYPTOKI_NOT_INITIALIZED;
            break;
        }
        if (!g.connected) {
            if (c->mode != SR_SLOT) {
                rv = CKR_DEVICE_REMOVED;
                break;
            }
            if (g.conns[0].busy) {       /* another call is reconnecting */
                pthread_cond_wait(&g_pool_cond, &g_pool_lock);
                continue;
            }
            g.conns[0].busy = 1;
            pthread_mutex_unlock(&g_pool_lock);
            rv = sr_reconnect();
            if (rv != CKR_OK) {
                int err = errno;
                pthread_mutex_lock(&g_pool_lock);
                g.conns[0].busy = 0;
                pthread_cond_broadcast(&g_pool_cond);
                pthread_mutex_unlock(&g_pool_lock);
                errno = err;
                return rv == SR_UNREACHABLE ? c->fallback : rv;
            }
            c->conn = &g.conns[0];
            c->pooled = 1;
            return CKR_OK;
        }
        if (c->mode == SR_SESSION && c->epoch != g.epoch) {
            rv = CKR_SESSION_HANDLE_INVALID;
            break;
        }
        for (i = 0; i < g.nconns; i++) {
            sr_conn *f = &g.conns[i];
            if (f->fd >= 0 && !f->busy && !f->stale && f->epoch == g.epoch) {
                k = f;
                break;
            }
        }
        if (k != NULL) {
            k->busy = 1;
            c->conn = k;
            c->pooled = 1;
            if (c->contended && g.pool_max > 1 && g.conns[0].ext && !g.pool_off && !g.have_ticket
                && !g.fetching && sr_now_ms() >= g.join_after) {
                g.fetching = 1;
                fetch = 1;
            }
            break;
        }
        if (sr_may_grow()) {
            unsigned char ticket[SR_TICKET_LEN];
            char path[sizeof(g.join_path)];
            unsigned long epoch = g.epoch;
            sr_conn fresh;
            memcpy(ticket, g.ticket, sizeof(ticket));
            memcpy(path, g.join_path[0] ? g.join_path : g.path, sizeof(path));
            g.growing = 1;
            pthread_mutex_unlock(&g_pool_lock);
            rv = sr_join(path, ticket, &fresh);
            explicit_bzero(ticket, sizeof(ticket));
            pthread_mutex_lock(&g_pool_lock);
            g.growing = 0;
            pthread_cond_broadcast(&g_pool_cond);
            if (rv == CKR_OK && g.initialized && !g.finalizing && g.connected && g.epoch == epoch) {
                for (i = 1; i < SR_POOL_MAX && (g.conns[i].fd >= 0 || g.conns[i].busy); i++)
                    ;                    /* a broken one still held is not free yet */
                if (i < SR_POOL_MAX) {
                    fresh.epoch = epoch;
                    fresh.busy = 1;
                    g.conns[i] = fresh;
                    if (i >= g.nconns)
                        g.nconns = i + 1;
                    c->conn = &g.conns[i];
                    c->pooled = 1;
                    rv = CKR_OK;
                    break;
                }
            }
            if (rv == CKR_OK)
                close(fresh.fd);         /* the application it joined is gone meanwhile */
            else if (g.epoch == epoch) {
                g.join_after = sr_now_ms() + SR_JOIN_BACKOFF_MS;
                if (rv == CKR_FUNCTION_REJECTED)
                    sr_forget_ticket();  /* the service no longer knows it */
            }
            rv = CKR_OK;
            continue;
        }
        c->contended = 1;
        pthread_cond_wait(&g_pool_cond, &g_pool_lock);
    }
    pthread_mutex_unlock(&g_pool_lock);
    if (fetch)
        sr_fetch_ticket(c->conn);
    return rv;
}
