/* libstrongroom-client.so -- strongroom's PKCS#11 client module (issue 13): the
 * internal header of its C files (one job each; see the list below).
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
 * wrappers are generated too (client_calls.inc, calls.c), the rest is written by hand.
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
 *
 * Files: buf.c (request buffer, answer reader), tables.c (the generated layout and
 * attribute tables), transport.c (socket I/O, dial), conn.c (the C_Initialize, join and
 * ticket exchanges), pool.c (the module's state, the pool, fork), call.c (one call's
 * frame and round trip), session.c (the session table), encode.c / decode.c (request and
 * response values), mech.c (mechanism and message parameters), attrs.c (templates),
 * config.c (the service's address, the environment), api_general.c, api_slot.c,
 * api_session.c, api_object.c, api_message.c (the hand-written C_* functions by chapter),
 * calls.c (the generated C_* wrappers and function lists), interfaces.c.
 */
#ifndef SR_CLIENT_H
#define SR_CLIENT_H
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

/* everything declared below is internal to the module (only C_* are exported) */
#pragma GCC visibility push(hidden)

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

/* ---- state (pool.c) --------------------------------------------------------------- */
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

struct sr_state {
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
};
extern struct sr_state g;
extern CK_SESSION_HANDLE g_next_handle;    /* under g_sess_lock */
extern pthread_mutex_t g_init_lock, g_pool_lock, g_sess_lock;
extern pthread_cond_t g_pool_cond;

/* ---- buffers (buf.c) -------------------------------------------------------------- */
typedef struct { unsigned char *data; size_t len, cap; CK_RV rv; } sr_buf;
typedef struct { const unsigned char *p; size_t left; int bad; } sr_rd;

/* ---- one call (call.c) ------------------------------------------------------------ */
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

/* ---- the functions each file offers the others ------------------------------------ */
/* buf.c */
void sr_wipe_free(void *p, size_t n);
void sr_buf_free(sr_buf *b);
void sr_bytes(sr_buf *b, const void *p, size_t n);
void sr_u8(sr_buf *b, unsigned v);
void sr_u32(sr_buf *b, uint32_t v);
void sr_u64(sr_buf *b, uint64_t v);
void sr_array(sr_buf *b, const void *p, CK_ULONG n);
const unsigned char *sr_take(sr_rd *r, size_t n);
unsigned sr_rd_u8(sr_rd *r);
uint32_t sr_rd_u32(sr_rd *r);
uint64_t sr_rd_u64(sr_rd *r);
const unsigned char *sr_rd_array(sr_rd *r, uint32_t *len, int *isnull);

/* tables.c */
const sr_layout *sr_mech_layout(CK_MECHANISM_TYPE mech);
const sr_layout *sr_msg_param_layout(CK_MECHANISM_TYPE mech);
const sr_field *sr_layout_field(const sr_layout *lay, unsigned i);
int sr_attr_cls(CK_ATTRIBUTE_TYPE type);

/* transport.c */
long sr_now_ms(void);
int sr_send_all(int fd, const unsigned char *p, size_t n);
int sr_recv_all(int fd, unsigned char *p, size_t n, long deadline);
int sr_dial(const char *path, unsigned offer, int *version);

/* conn.c */
CK_RV sr_reconnect(void);
CK_RV sr_join(const char *path, const unsigned char *ticket, sr_conn *out);
void sr_fetch_ticket(sr_conn *k);

/* pool.c */
void sr_pool_clear(void);
void sr_release(sr_conn *k);
void sr_discard(sr_conn *k);
void sr_lose_main(void);
CK_RV sr_acquire(sr_call *c);

/* call.c */
void sr_start(sr_call *c, uint32_t id, const char *req, const char *rsp);
CK_RV sr_done(sr_call *c, CK_RV rv);
int sr_transact(sr_call *c);
CK_RV sr_check_answer(sr_call *c);
CK_RV sr_finish(sr_call *c);
void sr_out_rv(sr_call *c, CK_RV rv);
CK_RV sr_run_private(sr_call *c, sr_conn *k);
CK_RV sr_run(sr_call *c);
CK_RV sr_begin(sr_call *c, uint32_t id, const char *req, const char *rsp, int mode,
               CK_SESSION_HANDLE h, CK_RV fallback);

/* session.c */
sr_session *sr_session_get(CK_SESSION_HANDLE h);
int sr_session_room(void);
void sr_session_remove(sr_session *s);
void sr_sessions_purge_old(void);
void sr_session_forget(CK_SESSION_HANDLE h);

/* encode.c */
void sr_put_u(sr_call *c, CK_ULONG v);
void sr_put_y(sr_call *c, CK_ULONG v);
void sr_put_ay(sr_call *c, const void *p, CK_ULONG n);
uint32_t sr_capacity(CK_ULONG n);
void sr_put_fy(sr_call *c, const void *p, const CK_ULONG *pn);
void sr_put_fy_fixed(sr_call *c, CK_ULONG n);
void sr_put_fu(sr_call *c, const void *p, CK_ULONG cap);
void sr_put_s(sr_call *c, const CK_UTF8CHAR *p, size_t width);
void sr_put_z(sr_call *c, const CK_UTF8CHAR *p, size_t max);

/* decode.c */
void sr_get_u(sr_call *c, CK_ULONG *p);
void sr_get_ay(sr_call *c, CK_BYTE *p, CK_ULONG *pn);
void sr_get_ay_fixed(sr_call *c, CK_BYTE *p, CK_ULONG n);
void sr_get_au(sr_call *c, CK_ULONG *p, CK_ULONG cap, CK_ULONG *pcount, int exact);
void sr_get_info(sr_call *c, CK_INFO *p);
void sr_get_slot_info(sr_call *c, CK_SLOT_INFO *p);
void sr_get_token_info(sr_call *c, CK_TOKEN_INFO *p);
void sr_get_session_info(sr_call *c, CK_SESSION_INFO *p);
void sr_get_mechanism_info(sr_call *c, CK_MECHANISM_INFO *p);
void sr_get_token_usage(sr_call *c, SR_TOKEN_USAGE *p);

/* mech.c */
void sr_put_mech(sr_call *c, const CK_MECHANISM *m);
void sr_put_mech_as(sr_call *c, const CK_MECHANISM *m, int raw);
void sr_put_msg_param(sr_call *c, int kind, const void *p, CK_ULONG n);
void sr_param_back(sr_call *c, void *param, CK_ULONG len, int apply);

/* attrs.c */
void sr_put_attrs(sr_call *c, const CK_ATTRIBUTE *t, CK_ULONG n, int depth);
CK_RV sr_wanted(sr_buf *b, const CK_ATTRIBUTE *t, CK_ULONG n, int depth, int nested);
void sr_answer_value(sr_rd *r, CK_ATTRIBUTE *a, uint32_t len, int depth, int *small);

/* config.c */
int sr_resolve(char *why, size_t whylen);
int sr_quiet(void);
int sr_timeout_ms(void);
int sr_pool_size(void);

#pragma GCC visibility pop
#endif
