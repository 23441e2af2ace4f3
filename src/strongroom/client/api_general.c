/* libstrongroom-client.so -- general-purpose functions (v2.40 §5.4): C_Initialize,
 * C_Finalize, C_GetInfo. */
#include "client.h"

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
