/* A minimal C host for libstrongroom.so (compiled by test_c_host.py).
 *
 *   c_host MODULE fork     C_Initialize, fork: the child must see NOT_INITIALIZED, then
 *                          C_Initialize again and work; the parent keeps working
 *   c_host MODULE threads  C_GetInfo from 4 threads at once
 *   c_host MODULE bench N  N x C_GetInfo, prints nanoseconds per call
 *   c_host MODULE info     C_Initialize + C_GetInfo + C_Finalize, prints the info
 * Exit code 0 = as expected. Declares only what it uses (no pkcs11.h needed). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV;
typedef struct { unsigned char major, minor; } CK_VERSION;
typedef struct {
    CK_VERSION cryptokiVersion;
    unsigned char manufacturerID[32];
    CK_ULONG flags;
    unsigned char libraryDescription[32];
    CK_VERSION libraryVersion;
} CK_INFO;
typedef CK_RV (*fn_init)(void *);
typedef CK_RV (*fn_info)(CK_INFO *);
typedef struct {
    CK_VERSION version;
    fn_init C_Initialize;
    fn_init C_Finalize;
    fn_info C_GetInfo;
    /* the rest is not used here */
} FUNCS;
typedef CK_RV (*fn_getlist)(FUNCS **);

static FUNCS *f;

static void *worker(void *arg)
{
    CK_INFO info;
    long i;
    (void)arg;
    for (i = 0; i < 2000; i++)
        if (f->C_GetInfo(&info) != 0)
            return (void *)1;
    return NULL;
}

int main(int argc, char **argv)
{
    void *h;
    fn_getlist get;
    CK_INFO info;
    CK_RV rv;

    if (argc < 3) return 2;
    h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 3; }
    get = (fn_getlist)dlsym(h, "C_GetFunctionList");
    if (!get || get(&f) != 0) return 4;
    if ((rv = f->C_GetInfo(&info)) != 0x190) { fprintf(stderr, "before init: %#lx\n", rv); return 5; }
    if ((rv = f->C_Initialize(NULL)) != 0) { fprintf(stderr, "C_Initialize: %#lx\n", rv); return 6; }
    if ((rv = f->C_GetInfo(&info)) != 0) { fprintf(stderr, "C_GetInfo: %#lx\n", rv); return 7; }

    if (strcmp(argv[2], "info") == 0) {
        printf("%d.%d|%.32s|%.32s|%d.%d\n", info.cryptokiVersion.major, info.cryptokiVersion.minor,
               info.manufacturerID, info.libraryDescription,
               info.libraryVersion.major, info.libraryVersion.minor);
    } else if (strcmp(argv[2], "fork") == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            if ((rv = f->C_GetInfo(&info)) != 0x190) { fprintf(stderr, "child before: %#lx\n", rv); _exit(10); }
            if ((rv = f->C_Initialize(NULL)) != 0) { fprintf(stderr, "child init: %#lx\n", rv); _exit(11); }
            if ((rv = f->C_GetInfo(&info)) != 0) { fprintf(stderr, "child info: %#lx\n", rv); _exit(12); }
            if ((rv = f->C_Finalize(NULL)) != 0) { fprintf(stderr, "child fin: %#lx\n", rv); _exit(13); }
            _exit(0);
        } else {
            int st = 0;
            if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "child status %d\n", st);
                return 20;
            }
            if ((rv = f->C_GetInfo(&info)) != 0) { fprintf(stderr, "parent after: %#lx\n", rv); return 21; }
        }
    } else if (strcmp(argv[2], "threads") == 0) {
        pthread_t t[4];
        void *res;
        int i, bad = 0;
        for (i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, NULL);
        for (i = 0; i < 4; i++) { pthread_join(t[i], &res); bad |= res != NULL; }
        if (bad) return 30;
    } else if (strcmp(argv[2], "bench") == 0) {
        long n = argc > 3 ? atol(argv[3]) : 100000, i;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (i = 0; i < n; i++) f->C_GetInfo(&info);
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%.0f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
    }
    if ((rv = f->C_Finalize(NULL)) != 0) { fprintf(stderr, "C_Finalize: %#lx\n", rv); return 8; }
    return 0;
}
