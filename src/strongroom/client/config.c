/* libstrongroom-client.so -- settings: the service's address (STRONGROOM_SERVICE,
 * client.conf, the default socket) and the STRONGROOM_CLIENT_* environment. */
#include "client.h"

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
int sr_resolve(char *why, size_t whylen)
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

int sr_quiet(void)
{
    const char *q = getenv("STRONGROOM_CLIENT_QUIET");
    return q != NULL && strcmp(q, "1") == 0;
}

int sr_timeout_ms(void)
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
int sr_pool_size(void)
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
