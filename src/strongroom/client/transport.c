/* libstrongroom-client.so -- the socket: connect with a timeout and the version byte, send
 * and receive whole buffers (a dead peer ends a call at once). */
#include "client.h"

long sr_now_ms(void)
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

int sr_send_all(int fd, const unsigned char *p, size_t n)
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
int sr_recv_all(int fd, unsigned char *p, size_t n, long deadline)
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
int sr_dial(const char *path, unsigned offer, int *version)
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
