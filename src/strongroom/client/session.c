/* libstrongroom-client.so -- the session table: the client's session handles, mapped to
 * the service's per connection epoch (under g_sess_lock). */
#include "client.h"

sr_session *sr_session_get(CK_SESSION_HANDLE h)
{
    size_t i;
    for (i = 0; i < g.nsess; i++)
        if (g.sess[i].client == h)
            return &g.sess[i];
    return NULL;
}

int sr_session_room(void)
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

void sr_session_remove(sr_session *s)
{
    size_t i = (size_t)(s - g.sess);
    g.sess[i] = g.sess[--g.nsess];
}

void sr_sessions_purge_old(void)
{
    size_t i = 0;
    while (i < g.nsess) {
        if (g.sess[i].epoch != g.epoch)
            sr_session_remove(&g.sess[i]);
        else
            i++;
    }
}

void sr_session_forget(CK_SESSION_HANDLE h)
{
    sr_session *s;
    pthread_mutex_lock(&g_sess_lock);
    s = sr_session_get(h);
    if (s != NULL)
        sr_session_remove(s);
    pthread_mutex_unlock(&g_sess_lock);
}
