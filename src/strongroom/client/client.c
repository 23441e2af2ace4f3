/* libstrongroom-client.so -- strongroom's PKCS#11 client module (issue 13).
 *
 * A PKCS#11 v2.40 / v3.0 / v3.2 module that carries every call to strongroom's token
 * service (python -m strongroom.server) over p11-kit's RPC protocol on a Unix socket
 * (docs/protocol.md, docs/client.md). It is plain C and links only libc: no Python and
 * no other runtime enters the application's process.
 *
 * Finding the service: STRONGROOM_SERVICE ("unix:PATH"), else the first "service =
 * unix:PATH" line of $XDG_CONFIG_HOME/strongroom/client.conf (~/.config when unset), then
 * of /etc/strongroom/client.conf, else $XDG_RUNTIME_DIR/strongroom/service.sock
 * (/run/user/UID when unset) for a user and /run/strongroom/service.sock for root. The
 * connect has a timeout (STRONGROOM_CLIENT_TIMEOUT seconds, default 2); calls have none
 * (crypto may be slow) but a dead peer ends them at once (EOF, ECONNRESET, EPIPE).
 *
 * Protocol: the version byte offers 0x81 (strongroom extension level 1); a p11-kit server
 * answers 0..2 and the client then runs in compatibility mode (standard call ids only).
 * C_InitToken travels as C_InitToken2 from version 1; C_EncryptMessage* as the
 * SR_EncryptMessage* ids on level 1, so that the token's tag and generated IV come back.
 * Mechanism parameters, per-message parameters and attributes are flattened from the
 * tables client/gen_tables.py generates at build time (client_tables.h); the standard
 * wrappers are generated too (client_calls.inc), the rest is below.
 *
 * Threads: a pool of connections into one application. C_Initialize opens the main one;
 * a call that finds every connection busy dials another (up to STRONGROOM_CLIENT_CONNECTIONS,
 * default 4) that joins the main one's application with a ticket (SR_ApplicationTicket /
 * SR_JoinApplication, extension level 1 only), else waits for one to come free. Each call
 * holds one connection for its round trip; the pool and the session table have their own
 * short locks. With the application's CK_C_INITIALIZE_ARGS callbacks (no
 * CKF_OS_LOCKING_OK) calls are serialised by its mutex over one connection. The module
 * never starts a thread. fork(): the child is not initialised
 * (CKR_CRYPTOKI_NOT_INITIALIZED) until its own C_Initialize, which opens a new connection;
 * the parent's sockets are closed in the child without a byte written. A dropped connection gives CKR_DEVICE_REMOVED; the next slot
 * call or C_OpenSession reconnects, and session handles of the old connection are
 * CKR_SESSION_HANDLE_INVALID from then on (handles are the client's own, mapped to the
 * service's per connection epoch). Service absent at C_Initialize: CKR_OK with no slots
 * and one line on stderr (unless STRONGROOM_CLIENT_QUIET=1).
 *
 * Secrets: every request and response buffer is wiped (explicit_bzero) before it is
 * freed; nothing is logged but the service address.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SR_EXPORT __attribute__((visibility("default")))

/* the generated tables' row types */
enum { SR_F_ULONG = 1, SR_F_BOOL, SR_F_BYTES, SR_F_INLINE, SR_F_FIXED, SR_F_BITS };
enum { SR_P_RAW = 0, SR_P_ULONG, SR_P_STRUCT };
enum { SR_A_BYTES = 0, SR_A_BYTE, SR_A_ULONG, SR_A_TEMPLATE, SR_A_MECHS, SR_A_DATE };
typedef struct { unsigned char kind, out; unsigned short off, len_off, size; } sr_field;
typedef struct { unsigned long mech; unsigned char form; unsigned short size, first, count; } sr_layout;
typedef struct { unsigned long type; unsigned char cls; } sr_attr_class;

#include "client_tables.h"

#define CK_UNAVAILABLE_INFORMATION (~0UL)
#define CKF_DONT_BLOCK 1UL
#define CKF_OS_LOCKING_OK 2UL
#define SR_MAX_FRAME (64u * 1024u * 1024u + 64u * 1024u)
#define SR_NULL_ARRAY 0xFFFFFFFFu
#define SR_MAX_DEPTH 8
#define SR_OPTIONS "strongroom-client"
#define SR_OFFER 0x81
#define SR_UNREACHABLE 0x8FFFFF01UL       /* internal: the service cannot be reached */
#define SR_INTERFACE_NAME "strongroom"   /* strongroom_vendor.h: interface "strongroom" 1.0 */
static const char sr_handshake[] = "PRIVATE-GNOME-KEYRING-PKCS11-PROTOCOL-V-1";

/* ---- state ------------------------------------------------------------------------ */
typedef struct {
    CK_SESSION_HANDLE client, server;
    CK_SLOT_ID slot;
    unsigned long epoch;
    CK_MECHANISM_TYPE msg[2];            /* message encrypt / decrypt mechanism */
    int msg_set[2];
} sr_session;

/* One connection of the pool. conns[0] is the main one (the C_Initialize exchange); the
 * others joined its application (SR_JoinApplication). A connection is used by one call at
 * a time (busy); fd, busy and stale change under g_pool_lock, code and the stream belong
 * to the call that holds it. */
typedef struct {
    int fd;                              /* -1: the slot is free (main: not connected) */
    int busy;                            /* held by a call (or a reconnect) */
    int stale;                           /* a joined connection of a lost application */
    int version, ext;
    uint32_t code;
    unsigned long epoch;                 /* the main connection's epoch it serves */
} sr_conn;

#define SR_POOL_MAX 64
#define SR_POOL_DEFAULT 4
#define SR_TICKET_LEN 32
#define SR_JOIN_BACKOFF_MS 1000L

static struct {
    int initialized, finalizing;
    pid_t pid;
    CK_C_INITIALIZE_ARGS app;            /* the application's mutex callbacks */
    void *app_mutex;                     /* non-NULL: calls lock this one (and no pool) */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int timeout_ms;
    /* under g_pool_lock (epoch: under g_pool_lock and g_sess_lock to change) */
    int connected;                       /* the main connection is up */
    unsigned long epoch;
    int pool_max, nconns;                /* nconns: slots [0, nconns) may be in use */
    int growing, fetching, have_ticket, pool_off;
    long join_after;                     /* no join attempt before (a join failed) */
    unsigned char ticket[SR_TICKET_LEN];
    char join_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    sr_conn conns[SR_POOL_MAX];
    /* under g_sess_lock */
    sr_session *sess;
    size_t nsess, capsess;
} g;
static CK_SESSION_HANDLE g_next_handle = 1;
static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_pool_cond = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t g_sess_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- buffers ---------------------------------------------------------------------- */
typedef struct { unsigned char *data; size_t len, cap; CK_RV rv; } sr_buf;
typedef struct { const unsigned char *p; size_t left; int bad; } sr_rd;

static void sr_wipe_free(void *p, size_t n)
{
    if (p != NULL) {
        explicit_bzero(p, n);
        free(p);
    }
}

static int sr_reserve(sr_buf *b, size_t more)
{
    size_t need, cap;
    unsigned char *p;
    if (b->rv != CKR_OK)
        return 0;
    if (more > SR_MAX_FRAME || b->len + more > SR_MAX_FRAME) {
        b->rv = CKR_DATA_LEN_RANGE;
        return 0;
    }
    need = b->len + more;
    if (need <= b->cap)
        return 1;
    cap = b->cap ? b->cap * 2 : 256;
    while (cap < need)
        cap *= 2;
    p = malloc(cap);                     /* no realloc: the old copy is wiped first */
    if (p == NULL) {
        b->rv = CKR_HOST_MEMORY;
        return 0;
    }
    if (b->len)
        memcpy(p, b->data, b->len);
    sr_wipe_free(b->data, b->cap);
    b->data = p;
    b->cap = cap;
    return 1;
}

static void sr_buf_free(sr_buf *b)
{
    sr_wipe_free(b->data, b->cap);
    memset(b, 0, sizeof(*b));
}

static void sr_bytes(sr_buf *b, const void *p, size_t n)
{
    if (sr_reserve(b, n) && n) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
}

static void sr_u8(sr_buf *b, unsigned v) { unsigned char c = (unsigned char)v; sr_bytes(b, &c, 1); }

static void sr_u32(sr_buf *b, uint32_t v)
{
    unsigned char c[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                           (unsigned char)v };
    sr_bytes(b, c, 4);
}

static void sr_u64(sr_buf *b, uint64_t v)
{
    sr_u32(b, (uint32_t)(v >> 32));
    sr_u32(b, (uint32_t)v);
}

/* a raw byte array: uint32 length and the bytes, 0xFFFFFFFF for NULL */
static void sr_array(sr_buf *b, const void *p, CK_ULONG n)
{
    if (p == NULL) {
        if (n != 0 && b->rv == CKR_OK)
            b->rv = CKR_ARGUMENTS_BAD;
        sr_u32(b, SR_NULL_ARRAY);
        return;
    }
    if (n >= 0x7FFFFFFFUL) {
        if (b->rv == CKR_OK)
            b->rv = CKR_DATA_LEN_RANGE;
        return;
    }
    sr_u32(b, (uint32_t)n);
    sr_bytes(b, p, n);
}

static const unsigned char *sr_take(sr_rd *r, size_t n)
{
    const unsigned char *p;
    if (r->bad || n > r->left) {
        r->bad = 1;
        return NULL;
    }
    p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

static unsigned sr_rd_u8(sr_rd *r) { const unsigned char *p = sr_take(r, 1); return p ? p[0] : 0; }

static uint32_t sr_rd_u32(sr_rd *r)
{
    const unsigned char *p = sr_take(r, 4);
    return p ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) : 0;
}

static uint64_t sr_rd_u64(sr_rd *r)
{
    uint64_t hi = sr_rd_u32(r);
    return hi << 32 | sr_rd_u32(r);
}

/* a raw byte array; *isnull for 0xFFFFFFFF; the length is checked against the frame */
static const unsigned char *sr_rd_array(sr_rd *r, uint32_t *len, int *isnull)
{
    uint32_t n = sr_rd_u32(r);
    *isnull = 0;
    *len = 0;
    if (r->bad)
        return NULL;
    if (n == SR_NULL_ARRAY) {
        *isnull = 1;
        return NULL;
    }
    *len = n;
    return sr_take(r, n);
}

/* ---- table look-ups --------------------------------------------------------------- */
static const sr_layout *sr_find_layout(const sr_layout *t, size_t n, CK_MECHANISM_TYPE mech)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t[mid].mech == mech)
            return &t[mid];
        if (t[mid].mech < mech)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int sr_attr_cls(CK_ATTRIBUTE_TYPE type)
{
    size_t lo = 0, hi = SR_N_ATTR_CLASSES;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sr_attr_classes[mid].type == type)
            return sr_attr_classes[mid].cls;
        if (sr_attr_classes[mid].type < type)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SR_A_BYTES;
}

/* ---- the pool's bookkeeping, fork --------------------------------------------------- */
static void sr_forget_ticket(void)
{
    explicit_bzero(g.ticket, sizeof(g.ticket));
    g.have_ticket = 0;
    g.join_path[0] = 0;
}

/* every connection closed without a byte written, the pool empty (no call may hold one) */
static void sr_pool_clear(void)
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

/* ---- sessions: the client's handles, mapped per connection epoch (g_sess_lock) ------ */
static sr_session *sr_session_get(CK_SESSION_HANDLE h)
{
    size_t i;
    for (i = 0; i < g.nsess; i++)
        if (g.sess[i].client == h)
            return &g.sess[i];
    return NULL;
}

static int sr_session_room(void)
{
    sr_session *p;
    size_t cap;
    if (g.nsess < g.capsess)
        return 1;
    cap = g.capsess ? g.capsess * 2 : 16;
    p = realloc(g.sess, cap * sizeof(*p));
    if (p == NULL)
        return 0;
    g.sess = p;
    g.capsess = cap;
    return 1;
}

static void sr_session_remove(sr_session *s)
{
    size_t i = (size_t)(s - g.sess);
    g.sess[i] = g.sess[--g.nsess];
}

static void sr_sessions_purge_old(void)
{
    size_t i = 0;
    while (i < g.nsess) {
        if (g.sess[i].epoch != g.epoch)
            sr_session_remove(&g.sess[i]);
        else
            i++;
    }
}

static void sr_session_forget(CK_SESSION_HANDLE h)
{
    sr_session *s;
    pthread_mutex_lock(&g_sess_lock);
    s = sr_session_get(h);
    if (s != NULL)
        sr_session_remove(s);
    pthread_mutex_unlock(&g_sess_lock);
}

/* ---- transport -------------------------------------------------------------------- */
static long sr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int sr_wait(int fd, short ev, long deadline)
{
    struct pollfd p = { .fd = fd, .events = ev };
    for (;;) {
        long left = deadline - sr_now_ms();
        int n;
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        n = poll(&p, 1, (int)left);
        if (n > 0)
            return 0;
        if (n == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (errno != EINTR)
            return -1;
    }
}

static int sr_send_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* deadline < 0: no timeout (a call); EOF and errors end it at once */
static int sr_recv_all(int fd, unsigned char *p, size_t n, long deadline)
{
    while (n) {
        ssize_t k;
        if (deadline >= 0 && sr_wait(fd, POLLIN, deadline) < 0)
            return -1;
        k = recv(fd, p, n, 0);
        if (k == 0) {
            errno = ECONNRESET;
            return -1;
        }
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* connect with a timeout and exchange the version byte; the socket or -1 (errno) */
static int sr_dial(const char *path, unsigned offer, int *version)
{
    struct sockaddr_un sa;
    long deadline = sr_now_ms() + g.timeout_ms;
    unsigned char byte = (unsigned char)offer;
    int fd, err = 0, flags;
    socklen_t elen = sizeof(err);

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    for (;;) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {           /* AF_UNIX: the listener's backlog is full */
            struct timespec ts = { 0, 10 * 1000000L };
            if (sr_now_ms() >= deadline) {
                errno = ETIMEDOUT;
                goto fail;
            }
            nanosleep(&ts, NULL);
            continue;
        }
        if (errno != EINPROGRESS)
            goto fail;
        if (sr_wait(fd, POLLOUT, deadline) < 0)
            goto fail;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            goto fail;
        if (err != 0) {
            errno = err;
            goto fail;
        }
        break;
    }
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
        goto fail;
    if (sr_send_all(fd, &byte, 1) < 0 || sr_recv_all(fd, &byte, 1, deadline) < 0)
        goto fail;
    *version = byte;
    return fd;
fail:
    err = errno;
    close(fd);
    errno = err;
    return -1;
}

/* ---- one call --------------------------------------------------------------------- */
enum { SR_PLAIN, SR_SLOT, SR_SESSION };
enum { SR_MSG_ENCRYPT = 0, SR_MSG_DECRYPT = 1, SR_MSG_OTHER = 2 };
enum { SR_T_OK, SR_T_SENDFAIL, SR_T_LOST };

typedef struct {
    sr_buf req;
    unsigned char *resp;
    size_t resp_len;
    sr_rd rd;
    uint32_t id;
    const char *rsp;
    int mode, app_locked, pooled, resent, contended, version, ext;
    long deadline;                       /* < 0: none */
    CK_RV fallback, out_rv;
    sr_conn *conn;                       /* the connection it runs on */
    /* a session call: a copy of the session's entry, taken at the start */
    int has_sess;
    CK_SESSION_HANDLE handle;
    CK_ULONG server;
    unsigned long epoch;
    CK_MECHANISM_TYPE msg[2];
    int msg_set[2];
} sr_call;

static void sr_start(sr_call *c, uint32_t id, const char *req, const char *rsp)
{
    c->id = id;
    c->rsp = rsp;
    sr_bytes(&c->req, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);     /* the frame header, later */
    sr_bytes(&c->req, SR_OPTIONS, sizeof(SR_OPTIONS) - 1);
    sr_u32(&c->req, id);
    sr_array(&c->req, req, strlen(req));
}

static void sr_lose_main_locked(void);

/* a call gives its connection back; a joined one that went stale (its application was
 * lost meanwhile) is closed now */
static void sr_release(sr_conn *k)
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
static void sr_discard(sr_conn *k)
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

static void sr_lose_main(void)
{
    pthread_mutex_lock(&g_pool_lock);
    sr_lose_main_locked();
    pthread_mutex_unlock(&g_pool_lock);
}

static CK_RV sr_done(sr_call *c, CK_RV rv)
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

static int sr_transact(sr_call *c)
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
static CK_RV sr_check_answer(sr_call *c)
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

static CK_RV sr_finish(sr_call *c)
{
    if (c->rd.bad || c->rd.left)
        return CKR_DEVICE_ERROR;
    return c->out_rv;
}

static void sr_out_rv(sr_call *c, CK_RV rv)
{
    if (c->out_rv == CKR_OK)
        c->out_rv = rv;
}

/* one exchange on a connection nobody else can see yet (the C_Initialize and join
 * exchanges): no resend, no pool */
static CK_RV sr_run_private(sr_call *c, sr_conn *k)
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

/* (re)connect the main connection and run the C_Initialize exchange. The caller holds
 * conns[0] (busy) or is C_Initialize; g_pool_lock is not held. A new epoch: the sessions
 * of the old one are gone, the joined connections stale. */
static CK_RV sr_reconnect(void)
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
static CK_RV sr_join(const char *path, const unsigned char *ticket, sr_conn *out)
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
static void sr_fetch_ticket(sr_conn *k)
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
static CK_RV sr_acquire(sr_call *c)
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

/* send, receive, check the answer's id and signature; an error answer's CK_RV. A request
 * a joined connection could not take goes on another; the main connection's is sent again
 * once after a reconnect when it is a slot call (nothing reached the service). */
static CK_RV sr_run(sr_call *c)
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

static CK_RV sr_begin(sr_call *c, uint32_t id, const char *req, const char *rsp, int mode,
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

/* ---- request values --------------------------------------------------------------- */
static void sr_put_u(sr_call *c, CK_ULONG v) { sr_u64(&c->req, v); }
static void sr_put_y(sr_call *c, CK_ULONG v) { sr_u8(&c->req, (unsigned)(v & 0xFF)); }

static void sr_put_ay(sr_call *c, const void *p, CK_ULONG n)
{
    sr_u8(&c->req, 1);
    sr_array(&c->req, p, n);
}

static uint32_t sr_capacity(CK_ULONG n)
{
    return n > SR_MAX_FRAME ? SR_MAX_FRAME : (uint32_t)n;
}

/* an output buffer: 0 for NULL (a size query), 0xFFFFFFFF for a real buffer of 0 bytes */
static void sr_put_fy(sr_call *c, const void *p, const CK_ULONG *pn)
{
    sr_u32(&c->req, p == NULL ? 0 : (*pn == 0 ? SR_NULL_ARRAY : sr_capacity(*pn)));
}

static void sr_put_fy_fixed(sr_call *c, CK_ULONG n)
{
    sr_u32(&c->req, n == 0 ? SR_NULL_ARRAY : sr_capacity(n));
}

static void sr_put_fu(sr_call *c, const void *p, CK_ULONG cap)
{
    sr_u32(&c->req, p == NULL ? 0 : sr_capacity(cap));
}

static void sr_put_s(sr_call *c, const CK_UTF8CHAR *p, size_t width)
{
    sr_array(&c->req, p, width);
}

static void sr_put_z(sr_call *c, const CK_UTF8CHAR *p, size_t max)
{
    size_t n = 0;
    while (n < max && p[n] != 0)
        n++;
    sr_array(&c->req, p, n);
}

/* a struct parameter flattened by its layout rows (docs/protocol.md "Mechanisms") */
static CK_RV sr_flatten(sr_buf *b, const sr_layout *lay, const void *param, CK_ULONG len)
{
    const unsigned char *base = param;
    unsigned i;
    if (param == NULL || len != lay->size)
        return CKR_MECHANISM_PARAM_INVALID;
    for (i = 0; i < lay->count; i++) {
        const sr_field *f = &sr_fields[lay->first + i];
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

static void sr_put_mech(sr_call *c, const CK_MECHANISM *m)
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
    lay = sr_find_layout(sr_mech_layouts, SR_N_MECH_LAYOUTS, m->mechanism);
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
    } else {
        rv = sr_flatten(&c->req, lay, m->pParameter, m->ulParameterLen);
    }
    if (rv != CKR_OK && c->req.rv == CKR_OK)
        c->req.rv = rv;
}

static const sr_layout *sr_msg_layout(sr_call *c, int kind)
{
    if (kind > SR_MSG_DECRYPT || !c->has_sess || !c->msg_set[kind])
        return NULL;
    return sr_find_layout(sr_msg_layouts, SR_N_MSG_LAYOUTS, c->msg[kind]);
}

/* a per-message parameter: flattened by its layout when the operation's mechanism has one */
static void sr_put_msg_param(sr_call *c, int kind, const void *p, CK_ULONG n)
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

static CK_RV sr_attrs(sr_buf *b, const CK_ATTRIBUTE *t, CK_ULONG n, int depth)
{
    CK_ULONG i, k;
    CK_RV rv;
    if (depth > SR_MAX_DEPTH || n > 0xFFFFFFUL)
        return CKR_TEMPLATE_INCONSISTENT;
    if (t == NULL && n != 0)
        return CKR_ARGUMENTS_BAD;
    sr_u32(b, (uint32_t)n);
    for (i = 0; i < n; i++) {
        const CK_ATTRIBUTE *a = &t[i];
        CK_ULONG len = a->ulValueLen, u;
        if (a->type > 0xFFFFFFFFUL)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        sr_u32(b, (uint32_t)a->type);
        if (len == CK_UNAVAILABLE_INFORMATION) {
            sr_u8(b, 0);
            continue;
        }
        if (len >= 0x7FFFFFFFUL || (a->pValue == NULL && len != 0))
            return CKR_ATTRIBUTE_VALUE_INVALID;
        sr_u8(b, 1);
        sr_u32(b, (uint32_t)len);
        switch (sr_attr_cls(a->type)) {
        case SR_A_BYTE:
            if (len != 1)
                return CKR_ATTRIBUTE_VALUE_INVALID;
            sr_u8(b, *(const CK_BYTE *)a->pValue);
            break;
        case SR_A_ULONG:
            if (len != sizeof(CK_ULONG))
                return CKR_ATTRIBUTE_VALUE_INVALID;
            memcpy(&u, a->pValue, sizeof(u));
            sr_u64(b, u);
            break;
        case SR_A_TEMPLATE:
            if (len % sizeof(CK_ATTRIBUTE))
                return CKR_ATTRIBUTE_VALUE_INVALID;
            rv = sr_attrs(b, a->pValue, len / sizeof(CK_ATTRIBUTE), depth + 1);
            if (rv != CKR_OK)
                return rv;
            break;
        case SR_A_MECHS:
            if (len % sizeof(CK_ULONG))
                return CKR_ATTRIBUTE_VALUE_INVALID;
            sr_u32(b, (uint32_t)(len / sizeof(CK_ULONG)));
            for (k = 0; k < len / sizeof(CK_ULONG); k++) {
                memcpy(&u, (const unsigned char *)a->pValue + k * sizeof(CK_ULONG), sizeof(u));
                sr_u64(b, u);
            }
            break;
        default:
            sr_array(b, a->pValue, len);
        }
    }
    return CKR_OK;
}

static void sr_put_attrs(sr_call *c, const CK_ATTRIBUTE *t, CK_ULONG n, int depth)
{
    CK_RV rv = sr_attrs(&c->req, t, n, depth);
    if (rv != CKR_OK && c->req.rv == CKR_OK)
        c->req.rv = rv;
}

/* ``fA``: per attribute its type and buffer size (0: NULL or empty); from version 1 a
 * template attribute with a buffer carries its own ``fA`` */
static CK_RV sr_wanted(sr_buf *b, const CK_ATTRIBUTE *t, CK_ULONG n, int depth, int nested)
{
    CK_ULONG i;
    if (depth > SR_MAX_DEPTH || n > 0xFFFFFFUL)
        return CKR_TEMPLATE_INCONSISTENT;
    sr_u32(b, (uint32_t)n);
    for (i = 0; i < n; i++) {
        uint32_t size = t[i].pValue == NULL ? 0 : sr_capacity(t[i].ulValueLen);
        if (t[i].type > 0xFFFFFFFFUL)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        sr_u32(b, (uint32_t)t[i].type);
        sr_u32(b, size);
        if (nested && size && sr_attr_cls(t[i].type) == SR_A_TEMPLATE) {
            CK_RV rv = sr_wanted(b, t[i].pValue, t[i].ulValueLen / sizeof(CK_ATTRIBUTE), depth + 1, nested);
            if (rv != CKR_OK)
                return rv;
        }
    }
    return CKR_OK;
}

/* ---- response values -------------------------------------------------------------- */
static void sr_get_u(sr_call *c, CK_ULONG *p)
{
    uint64_t v = sr_rd_u64(&c->rd);
    if (!c->rd.bad)
        *p = (CK_ULONG)v;
}

/* ``ay`` into the caller's buffer under the two-call convention (v2.40 §5.2) */
static void sr_get_ay(sr_call *c, CK_BYTE *p, CK_ULONG *pn)
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

static void sr_get_ay_fixed(sr_call *c, CK_BYTE *p, CK_ULONG n)
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

static void sr_get_au(sr_call *c, CK_ULONG *p, CK_ULONG cap, CK_ULONG *pcount, int exact)
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

static void sr_get_info(sr_call *c, CK_INFO *p)
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

static void sr_get_slot_info(sr_call *c, CK_SLOT_INFO *p)
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

static void sr_get_token_info(sr_call *c, CK_TOKEN_INFO *p)
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

static void sr_get_session_info(sr_call *c, CK_SESSION_INFO *p)
{
    CK_SESSION_INFO i;
    sr_get_u(c, &i.slotID);
    sr_get_u(c, &i.state);
    sr_get_u(c, &i.flags);
    sr_get_u(c, &i.ulDeviceError);
    if (!c->rd.bad)
        *p = i;
}

static void sr_get_mechanism_info(sr_call *c, CK_MECHANISM_INFO *p)
{
    CK_MECHANISM_INFO i;
    sr_get_u(c, &i.ulMinKeySize);
    sr_get_u(c, &i.ulMaxKeySize);
    sr_get_u(c, &i.flags);
    if (!c->rd.bad)
        *p = i;
}

static void sr_get_token_usage(sr_call *c, SR_TOKEN_USAGE *p)
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

/* One attribute of a C_GetAttributeValue answer into ``a`` (NULL: read and drop it).
 * ``a`` with a NULL or empty buffer asked for the length only. */
static void sr_answer_one(sr_rd *r, CK_ATTRIBUTE *a, int depth, int *small);

static void sr_set_length(CK_ATTRIBUTE *a, CK_ULONG len, int *small)
{
    if (a->pValue == NULL)
        a->ulValueLen = len;
    else if (len != 0) {                 /* a real buffer of 0 bytes */
        a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        *small = 1;
    } else
        a->ulValueLen = 0;
}

static void sr_answer_value(sr_rd *r, CK_ATTRIBUTE *a, uint32_t len, int depth, int *small)
{
    int query = a == NULL || a->pValue == NULL || a->ulValueLen == 0, cls = sr_attr_cls(a ? a->type : 0);
    const unsigned char *d;
    uint32_t n, i;
    int isnull;

    switch (a == NULL ? -1 : cls) {
    case SR_A_BYTE:
        d = sr_take(r, 1);
        if (r->bad)
            return;
        if (query)
            sr_set_length(a, 1, small);
        else {
            *(CK_BYTE *)a->pValue = d[0];
            a->ulValueLen = 1;
        }
        return;
    case SR_A_ULONG:
        n = (uint32_t)sizeof(CK_ULONG);
        {
            uint64_t v = sr_rd_u64(r);
            CK_ULONG u = (CK_ULONG)v;
            if (r->bad)
                return;
            if (query)
                sr_set_length(a, n, small);
            else if (a->ulValueLen < n) {
                a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
                *small = 1;
            } else {
                memcpy(a->pValue, &u, n);
                a->ulValueLen = n;
            }
        }
        return;
    case SR_A_TEMPLATE:
        n = sr_rd_u32(r);
        if (r->bad || depth >= SR_MAX_DEPTH) {
            r->bad = 1;
            return;
        }
        if (query || n > a->ulValueLen / sizeof(CK_ATTRIBUTE)) {
            for (i = 0; i < n && !r->bad; i++)
                sr_answer_one(r, NULL, depth + 1, small);
            if (query)
                sr_set_length(a, len, small);
            else {
                a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
                *small = 1;
            }
            return;
        }
        for (i = 0; i < n && !r->bad; i++)
            sr_answer_one(r, (CK_ATTRIBUTE *)a->pValue + i, depth + 1, small);
        a->ulValueLen = n * sizeof(CK_ATTRIBUTE);
        return;
    case SR_A_MECHS:
        n = sr_rd_u32(r);
        d = sr_take(r, (size_t)n * 8);
        if (r->bad)
            return;
        if (query)
            sr_set_length(a, len, small);
        else if (n > a->ulValueLen / sizeof(CK_ULONG)) {
            a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
            *small = 1;
        } else {
            for (i = 0; i < n; i++) {
                sr_rd one = { d + (size_t)i * 8, 8, 0 };
                ((CK_ULONG *)a->pValue)[i] = (CK_ULONG)sr_rd_u64(&one);
            }
            a->ulValueLen = n * sizeof(CK_ULONG);
        }
        return;
    case -1:                             /* dropped: the wire class still decides the bytes */
        return;
    default:
        d = sr_rd_array(r, &n, &isnull);
        if (r->bad)
            return;
        if (query)
            sr_set_length(a, len, small);
        else if (n > a->ulValueLen) {
            a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
            *small = 1;
        } else {
            if (n)
                memcpy(a->pValue, d, n);
            a->ulValueLen = n;
        }
    }
}

static void sr_skip_value(sr_rd *r, CK_ATTRIBUTE_TYPE type, int depth, int *small)
{
    uint32_t n, i, len;
    int isnull;
    switch (sr_attr_cls(type)) {
    case SR_A_BYTE: sr_take(r, 1); return;
    case SR_A_ULONG: sr_take(r, 8); return;
    case SR_A_TEMPLATE:
        n = sr_rd_u32(r);
        if (depth >= SR_MAX_DEPTH)
            r->bad = 1;
        for (i = 0; i < n && !r->bad; i++)
            sr_answer_one(r, NULL, depth + 1, small);
        return;
    case SR_A_MECHS: n = sr_rd_u32(r); sr_take(r, (size_t)n * 8); return;
    default: sr_rd_array(r, &len, &isnull);
    }
}

static void sr_answer_one(sr_rd *r, CK_ATTRIBUTE *a, int depth, int *small)
{
    uint32_t type = sr_rd_u32(r), len;
    unsigned valid = sr_rd_u8(r);
    if (r->bad)
        return;
    if (a != NULL && depth > 0)
        a->type = type;                  /* a nested template: the token names the types */
    if (!valid) {
        if (a != NULL)
            a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return;
    }
    len = sr_rd_u32(r);
    if (a == NULL)
        sr_skip_value(r, type, depth, small);
    else
        sr_answer_value(r, a, len, depth, small);
}

/* ---- hand-written functions ------------------------------------------------------- */
static int sr_parse_address(const char *text, char *out, size_t n)
{
    const char *p;
    if (strncmp(text, "unix:path=", 10) == 0)
        p = text + 10;
    else if (strncmp(text, "unix:", 5) == 0)
        p = text + 5;
    else
        return -1;
    if (p[0] != '/' || strlen(p) >= n)
        return -1;
    memcpy(out, p, strlen(p) + 1);
    return 0;
}

/* 1: found and valid, 0: no service line, -1: a service line that is not an address */
static int sr_config_file(const char *file, char *out, size_t n)
{
    char line[1024];
    FILE *fh = fopen(file, "re");
    int found = 0;
    if (fh == NULL)
        return 0;
    while (!found && fgets(line, sizeof(line), fh) != NULL) {
        char *s = line, *e;
        while (*s == ' ' || *s == '\t')
            s++;
        if (strncmp(s, "service", 7) != 0)
            continue;
        s += 7;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s++ != '=')
            continue;
        while (*s == ' ' || *s == '\t')
            s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            *--e = 0;
        found = sr_parse_address(s, out, n) == 0 ? 1 : -1;
    }
    fclose(fh);
    return found;
}

/* the service's socket path into g.path; a message for stderr on a bad setting */
static int sr_resolve(char *why, size_t whylen)
{
    const char *env = secure_getenv("STRONGROOM_SERVICE"), *xdg, *home;
    char file[4096];
    int r;
    if (env != NULL && *env) {
        if (sr_parse_address(env, g.path, sizeof(g.path)) == 0)
            return 0;
        snprintf(why, whylen, "STRONGROOM_SERVICE=%s is not unix:/absolute/path", env);
        return -1;
    }
    xdg = secure_getenv("XDG_CONFIG_HOME");
    home = secure_getenv("HOME");
    file[0] = 0;
    if (xdg != NULL && xdg[0] == '/')
        snprintf(file, sizeof(file), "%s/strongroom/client.conf", xdg);
    else if (home != NULL && home[0] == '/')
        snprintf(file, sizeof(file), "%s/.config/strongroom/client.conf", home);
    r = file[0] ? sr_config_file(file, g.path, sizeof(g.path)) : 0;
    if (r == 0) {
        snprintf(file, sizeof(file), "/etc/strongroom/client.conf");
        r = sr_config_file(file, g.path, sizeof(g.path));
    }
    if (r > 0)
        return 0;
    if (r < 0) {
        snprintf(why, whylen, "%s: the service line is not unix:/absolute/path", file);
        return -1;
    }
    if (geteuid() == 0) {
        snprintf(g.path, sizeof(g.path), "/run/strongroom/service.sock");
    } else {
        const char *run = secure_getenv("XDG_RUNTIME_DIR");
        if (run != NULL && run[0] == '/')
            r = snprintf(g.path, sizeof(g.path), "%s/strongroom/service.sock", run);
        else
            r = snprintf(g.path, sizeof(g.path), "/run/user/%u/strongroom/service.sock", (unsigned)geteuid());
        if (r < 0 || (size_t)r >= sizeof(g.path)) {
            snprintf(why, whylen, "the default socket path under XDG_RUNTIME_DIR is too long");
            return -1;
        }
    }
    return 0;
}

static int sr_quiet(void)
{
    const char *q = getenv("STRONGROOM_CLIENT_QUIET");
    return q != NULL && strcmp(q, "1") == 0;
}

static int sr_timeout_ms(void)
{
    const char *t = getenv("STRONGROOM_CLIENT_TIMEOUT");
    double s;
    char *end;
    if (t == NULL || !*t)
        return 2000;
    s = strtod(t, &end);
    if (*end || s <= 0 || s > 3600)
        return 2000;
    return (int)(s * 1000);
}

/* STRONGROOM_CLIENT_CONNECTIONS: the most connections of the pool (1: no pool) */
static int sr_pool_size(void)
{
    const char *t = secure_getenv("STRONGROOM_CLIENT_CONNECTIONS");
    long n;
    char *end;
    if (t == NULL || !*t)
        return SR_POOL_DEFAULT;
    errno = 0;
    n = strtol(t, &end, 10);
    if (*end || errno || n < 1)
        return SR_POOL_DEFAULT;
    return n > SR_POOL_MAX ? SR_POOL_MAX : (int)n;
}

static CK_RV sr_initialize(CK_C_INITIALIZE_ARGS *args)
{
    char why[512];
    CK_RV rv;
    if (g.initialized && g.pid == getpid())
        return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    if (g.initialized) {                 /* a child the fork handler did not see */
        sr_pool_clear();
        g.sess = NULL;
        g.nsess = g.capsess = 0;
        g.initialized = 0;
    }
    memset(&g.app, 0, sizeof(g.app));
    g.app_mutex = NULL;
    if (args != NULL) {
        int n = (args->CreateMutex != NULL) + (args->DestroyMutex != NULL) + (args->LockMutex != NULL)
                + (args->UnlockMutex != NULL);
        if (args->pReserved != NULL || (n != 0 && n != 4))
            return CKR_ARGUMENTS_BAD;
        if (n == 4 && !(args->flags & CKF_OS_LOCKING_OK)) {
            /* the application's own locking: use its mutexes, not the OS's */
            g.app = *args;
            if (args->CreateMutex(&g.app_mutex) != CKR_OK || g.app_mutex == NULL) {
                g.app_mutex = NULL;
                return CKR_CANT_LOCK;
            }
        }
    }
    g.timeout_ms = sr_timeout_ms();
    g.pool_max = g.app_mutex != NULL ? 1 : sr_pool_size();
    if (sr_resolve(why, sizeof(why)) < 0) {
        if (!sr_quiet())
            fprintf(stderr, "strongroom-client: %s\n", why);
        rv = CKR_GENERAL_ERROR;
        goto fail;
    }
    g.pid = getpid();
    g.nsess = 0;
    g.finalizing = 0;
    g.conns[0].busy = 1;
    rv = sr_reconnect();
    g.conns[0].busy = 0;
    if (rv == SR_UNREACHABLE) {
        if (!sr_quiet())
            fprintf(stderr, "strongroom-client: no token service at unix:%s (%s); start it with "
                            "`strongroom serve` -- no slots until it runs\n", g.path, strerror(errno));
        rv = CKR_OK;
    }
    if (rv != CKR_OK)
        goto fail;
    g.initialized = 1;
    return CKR_OK;
fail:
    if (g.app_mutex != NULL)
        g.app.DestroyMutex(g.app_mutex);
    g.app_mutex = NULL;
    return rv;
}

SR_EXPORT CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
    CK_RV rv;
    pthread_mutex_lock(&g_init_lock);
    rv = sr_initialize(pInitArgs);
    pthread_mutex_unlock(&g_init_lock);
    return rv;
}

SR_EXPORT CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
    sr_call c;
    void *mutex;
    int i, busy, connected;
    if (pReserved != NULL)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&g_init_lock);
    if (!g.initialized || g.pid != getpid()) {
        pthread_mutex_unlock(&g_init_lock);
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    if (g.app_mutex != NULL && g.app.LockMutex(g.app_mutex) != CKR_OK) {
        pthread_mutex_unlock(&g_init_lock);
        return CKR_GENERAL_ERROR;
    }
    /* new calls are refused from now on; the calls under way finish first */
    pthread_mutex_lock(&g_pool_lock);
    g.finalizing = 1;
    do {
        for (busy = 0, i = 0; i < g.nconns; i++)
            busy |= g.conns[i].busy;
        if (busy)
            pthread_cond_wait(&g_pool_cond, &g_pool_lock);
    } while (busy);
    connected = g.connected;
    g.conns[0].busy = 1;
    pthread_mutex_unlock(&g_pool_lock);
    if (connected) {
        memset(&c, 0, sizeof(c));
        c.deadline = sr_now_ms() + g.timeout_ms;
        sr_start(&c, SR_ID_C_Finalize, SR_REQ_C_Finalize, SR_RSP_C_Finalize);
        sr_run_private(&c, &g.conns[0]);  /* its answer does not matter: we hang up */
        sr_done(&c, CKR_OK);
    }
    pthread_mutex_lock(&g_pool_lock);
    sr_pool_clear();
    pthread_mutex_lock(&g_sess_lock);
    free(g.sess);
    g.sess = NULL;
    g.nsess = g.capsess = 0;
    pthread_mutex_unlock(&g_sess_lock);
    g.initialized = 0;
    g.finalizing = 0;
    pthread_cond_broadcast(&g_pool_cond);
    pthread_mutex_unlock(&g_pool_lock);
    mutex = g.app_mutex;
    if (mutex != NULL)
        g.app.UnlockMutex(mutex);
    g.app_mutex = NULL;
    if (mutex != NULL)
        g.app.DestroyMutex(mutex);
    pthread_mutex_unlock(&g_init_lock);
    return CKR_OK;
}

static void sr_pad(CK_UTF8CHAR *dst, const char *s, size_t width)
{
    size_t n = strlen(s);
    memset(dst, ' ', width);
    memcpy(dst, s, n < width ? n : width);
}

SR_EXPORT CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
    sr_call c;
    CK_RV rv;
    if (pInfo == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = sr_begin(&c, SR_ID_C_GetInfo, SR_REQ_C_GetInfo, SR_RSP_C_GetInfo, SR_SLOT, 0, SR_UNREACHABLE);
    if (rv == CKR_OK) {
        rv = sr_run(&c);
        if (rv == SR_UNREACHABLE)        /* it went away, and is not back */
            sr_done(&c, rv);
    }
    if (rv == SR_UNREACHABLE) {          /* no service: the client describes itself */
        memset(pInfo, 0, sizeof(*pInfo));
        pInfo->cryptokiVersion.major = 3;
        sr_pad(pInfo->manufacturerID, "strongroom", 32);
        sr_pad(pInfo->libraryDescription, "strongroom client (no service)", 32);
        pInfo->libraryVersion.major = 1;
        return CKR_OK;
    }
    if (rv == CKR_OK) {
        sr_get_info(&c, pInfo);
        rv = sr_finish(&c);
    }
    return sr_done(&c, rv);
}

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
    sr_put_mech(&c, pMechanism);
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

/* The parameter an SR_EncryptMessage* answer carries back: read (and checked) always,
 * its output fields (rows with out=True) written into the caller's struct when
 * ``apply`` (the call produced its output). */
static void sr_param_back(sr_call *c, void *param, CK_ULONG len, int apply)
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
            const sr_field *f = &sr_fields[lay->first + i];
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
        if (c.id == SR_ID_SR_EncryptMessage) {
            sr_rd mark = c.rd;           /* the parameter precedes the ciphertext */
            sr_param_back(&c, pParameter, ulParameterLen, 0);
            sr_get_ay(&c, pCiphertext, pulCiphertextLen);
            if (!c.rd.bad && c.out_rv == CKR_OK && pCiphertext != NULL) {
                sr_rd end = c.rd;
                c.rd = mark;
                sr_param_back(&c, pParameter, ulParameterLen, 1);
                c.rd = end;
            }
        } else {
            sr_get_ay(&c, pCiphertext, pulCiphertextLen);
        }
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
        if (c.id == SR_ID_SR_EncryptMessageNext) {
            sr_rd mark = c.rd;
            sr_param_back(&c, pParameter, ulParameterLen, 0);
            sr_get_ay(&c, pCiphertextPart, pulCiphertextPartLen);
            if (!c.rd.bad && c.out_rv == CKR_OK && pCiphertextPart != NULL) {
                sr_rd end = c.rd;
                c.rd = mark;
                sr_param_back(&c, pParameter, ulParameterLen, 1);
                c.rd = end;
            }
        } else {
            sr_get_ay(&c, pCiphertextPart, pulCiphertextPartLen);
        }
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

#include "client_calls.inc"

/* ---- interfaces ------------------------------------------------------------------- */
/* The first entry is the default (C_GetInterface with a NULL name): "PKCS 11" 3.0. */
static const char sr_pkcs11_name[] = "PKCS 11";
static CK_INTERFACE sr_interfaces[] = {
    { (CK_CHAR *)sr_pkcs11_name, (CK_VOID_PTR)&sr_list_30, 0 },
#ifdef SR_HAVE_3_2
    { (CK_CHAR *)sr_pkcs11_name, (CK_VOID_PTR)&sr_list_32, 0 },
#endif
    { (CK_CHAR *)sr_pkcs11_name, (CK_VOID_PTR)&sr_list_240, 0 },
    { (CK_CHAR *)SR_INTERFACE_NAME, (CK_VOID_PTR)&sr_list_vendor, 0 },
};
#define SR_N_INTERFACES (sizeof(sr_interfaces) / sizeof(sr_interfaces[0]))

SR_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
    if (ppFunctionList == NULL)
        return CKR_ARGUMENTS_BAD;
    *ppFunctionList = &sr_list_240;
    return CKR_OK;
}

SR_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
    if (pulCount == NULL)
        return CKR_ARGUMENTS_BAD;
    if (pInterfacesList == NULL) {
        *pulCount = SR_N_INTERFACES;
        return CKR_OK;
    }
    if (*pulCount < SR_N_INTERFACES) {
        *pulCount = SR_N_INTERFACES;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(pInterfacesList, sr_interfaces, sizeof(sr_interfaces));
    *pulCount = SR_N_INTERFACES;
    return CKR_OK;
}

SR_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                               CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
    size_t i;
    const char *want = pInterfaceName != NULL ? (const char *)pInterfaceName : sr_pkcs11_name;
    if (ppInterface == NULL)
        return CKR_ARGUMENTS_BAD;
    for (i = 0; i < SR_N_INTERFACES; i++) {
        CK_INTERFACE *it = &sr_interfaces[i];
        const CK_VERSION *v = (const CK_VERSION *)it->pFunctionList;
        if (strcmp(want, (const char *)it->pInterfaceName) != 0)
            continue;
        if (pVersion != NULL && (pVersion->major != v->major || pVersion->minor != v->minor))
            continue;
        if ((flags & it->flags) != flags)
            continue;
        *ppInterface = it;
        return CKR_OK;
    }
    return CKR_ARGUMENTS_BAD;
}
