/* strongroom C shim: the part of libstrongroom.so that runs before (or without) Python.
 *
 * Included verbatim into the cffi-generated C file by build_ffi.py, after Python.h,
 * cffi's embedding support (cffi_start_python) and ck_types.h, and before the generated
 * C_* wrappers. Responsibilities:
 *   - at load: make our libpython's symbols global (C hosts), refuse a host that runs a
 *     different Python major.minor, register fork handlers;
 *   - on first C_Initialize in a C host: start an isolated interpreter whose home is the
 *     build interpreter's prefix, with the installing environment's site-packages;
 *   - cheap guards: the C-level "initialized" flag, NULL checks, fork state.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SR_EXPORT __attribute__((visibility("default")))

#define CKR_OK                           0x00000000UL
#define CKR_HOST_MEMORY                  0x00000002UL
#define CKR_GENERAL_ERROR                0x00000005UL
#define CKR_ARGUMENTS_BAD                0x00000007UL
#define CKR_FUNCTION_NOT_PARALLEL        0x00000051UL
#define CKR_FUNCTION_NOT_SUPPORTED       0x00000054UL
#define CKR_BUFFER_TOO_SMALL             0x00000150UL
#define CKR_CRYPTOKI_NOT_INITIALIZED     0x00000190UL
#define CKR_CRYPTOKI_ALREADY_INITIALIZED 0x00000191UL
#define CKR_CANT_LOCK                    0x0000000AUL

/* ---- state --------------------------------------------------------------------------- */
static int sr_initialized;        /* C view: C_Initialize succeeded in this process */
static int sr_disabled;           /* host runs another Python: every call fails in C */
static char sr_host_version[16];  /* that host's "X.Y" */
static int sr_python_state;       /* 0 not started, 1 ready, -1 start failed */
static int sr_we_own_python;      /* we called Py_InitializeFromConfig (C host) */
static pthread_mutex_t sr_start_lock = PTHREAD_MUTEX_INITIALIZER;
static char sr_so_path[PATH_MAX];

/* The application's own mutex callbacks (CK_C_INITIALIZE_ARGS without CKF_OS_LOCKING_OK).
 * v2.40 §5.4 / v3.0 §5.4 (C_Initialize, case 3): "the library needs to use the supplied
 * function pointers for mutex-handling". The core's own locks are OS primitives (Python's
 * threading, which cannot be routed through callbacks), so in that case every call into the
 * core also holds one application mutex, created here with CreateMutex: the application's
 * threading model decides who enters the library, and the core never sees two of its threads
 * at once. NULL in every other case (the fast path pays one load). */
static void *sr_app_mutex;
static CK_LOCKMUTEX sr_app_lock_fn;
static CK_UNLOCKMUTEX sr_app_unlock_fn;
static CK_DESTROYMUTEX sr_app_destroy_fn;

/* Every generated C_* wrapper ends with this: the core call, inside the application's
 * mutex when it gave us one. A failing LockMutex means no call was made. */
#define SR_CALL(call) do { \
        if (__builtin_expect(sr_app_mutex != NULL, 0)) { \
            CK_RV sr_rv_; \
            if (sr_app_lock_fn(sr_app_mutex) != CKR_OK) return CKR_GENERAL_ERROR; \
            sr_rv_ = (call); \
            (void)sr_app_unlock_fn(sr_app_mutex); \
            return sr_rv_; \
        } \
        return (call); \
    } while (0)

static void sr_app_mutex_destroy(void)
{
    void *m = sr_app_mutex;
    sr_app_mutex = NULL;
    if (m != NULL && sr_app_destroy_fn != NULL)
        (void)sr_app_destroy_fn(m);
}

/* Every generated C_* wrapper starts with this: one relaxed load on the fast path. */
#define SR_GUARD() do { \
        if (__builtin_expect(!__atomic_load_n(&sr_initialized, __ATOMIC_ACQUIRE), 0)) \
            return sr_disabled ? CKR_GENERAL_ERROR : CKR_CRYPTOKI_NOT_INITIALIZED; \
    } while (0)

/* ---- helpers exposed to Python (cdef) ------------------------------------------------ */
static const char *sr_module_path(void) { return sr_so_path; }
static int sr_owns_python(void) { return sr_we_own_python; }

/* "3.11.7 (main, ...)" starts with "3.11" followed by a non-digit? */
static int sr_version_matches(const char *v)
{
    size_t n = strlen(SR_PY_VERSION);
    return v != NULL && strncmp(v, SR_PY_VERSION, n) == 0 && !(v[n] >= '0' && v[n] <= '9');
}

static int sr_same_file(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    if (a == NULL || b == NULL) return 0;
    if (realpath(a, ra) == NULL || realpath(b, rb) == NULL) return strcmp(a, b) == 0;
    return strcmp(ra, rb) == 0;
}

/* ---- freshness probe: has any connection committed since we last looked? ------------ */
/* The token's caches (attributes, parsed keys, token list) stay valid while no connection
 * committed to the database. Python's sqlite3 needs ~3 us for one PRAGMA data_version
 * (cursor, statement cache, row tuple); the same PRAGMA stepped from C still costs
 * ~1.6 us (it opens a WAL read transaction: two fcntl locks and an fstat per call).
 *
 * The fast path reads the WAL-index header instead: the store runs in WAL mode, and every
 * commit of any connection rewrites that header in the -shm file (mxFrame, iChange, the
 * running frame checksum; https://sqlite.org/walformat.html, "WAL-Index Header") before
 * the writer releases its lock. SQLite keeps two copies; a writer writes copy 2, then
 * copy 1, and a lock-free reader reads copy 1, then copy 2, and trusts them only if they
 * are equal (walIndexTryHdr). We do the same and return a 62-bit hash of the 48 header
 * bytes: a different value after every commit. The shm mapping is SQLite's own (region 0,
 * obtained once through the public VFS method xShmMap of our own read-only connection,
 * which keeps it mapped and keeps the -shm file alive while open).
 * If the copies differ (a writer mid-update, or one that crashed between the copies),
 * we run the PRAGMA once (SQLite then waits or recovers the index) and read again.
 *
 * The connection is private to this process: opened lazily at the first read after the
 * Python core gave the path (C_Initialize), closed in C_Finalize, and forgotten (never
 * closed: SQLite forbids using it) in a forked child. It uses the libsqlite3.so.0 that
 * Python's _sqlite3 module uses (same library instance, so SQLite's per-process POSIX
 * lock bookkeeping is shared); the few prototypes are declared here. */
typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef struct sr_sqlite3_file sr_sqlite3_file;
struct sr_sqlite3_io_methods {                 /* sqlite3.h: struct sqlite3_io_methods */
    int iVersion;
    int (*xClose)(sr_sqlite3_file *);
    int (*xRead)(sr_sqlite3_file *, void *, int, long long);
    int (*xWrite)(sr_sqlite3_file *, const void *, int, long long);
    int (*xTruncate)(sr_sqlite3_file *, long long);
    int (*xSync)(sr_sqlite3_file *, int);
    int (*xFileSize)(sr_sqlite3_file *, long long *);
    int (*xLock)(sr_sqlite3_file *, int);
    int (*xUnlock)(sr_sqlite3_file *, int);
    int (*xCheckReservedLock)(sr_sqlite3_file *, int *);
    int (*xFileControl)(sr_sqlite3_file *, int, void *);
    int (*xSectorSize)(sr_sqlite3_file *);
    int (*xDeviceCharacteristics)(sr_sqlite3_file *);
    int (*xShmMap)(sr_sqlite3_file *, int iPg, int pgsz, int, void volatile **);
    /* xShmLock, xShmBarrier, xShmUnmap, xFetch, xUnfetch follow; not used */
};
struct sr_sqlite3_file { const struct sr_sqlite3_io_methods *pMethods; };
int sqlite3_open_v2(const char *filename, sqlite3 **ppDb, int flags, const char *zVfs);
int sqlite3_prepare_v2(sqlite3 *db, const char *zSql, int nByte, sqlite3_stmt **ppStmt,
                       const char **pzTail);
int sqlite3_step(sqlite3_stmt *stmt);
long long sqlite3_column_int64(sqlite3_stmt *stmt, int iCol);
int sqlite3_reset(sqlite3_stmt *stmt);
int sqlite3_finalize(sqlite3_stmt *stmt);
int sqlite3_close_v2(sqlite3 *db);
int sqlite3_busy_timeout(sqlite3 *db, int ms);
int sqlite3_file_control(sqlite3 *db, const char *zDbName, int op, void *arg);
#define SR_SQLITE_OK 0
#define SR_SQLITE_ROW 100
#define SR_SQLITE_OPEN_READONLY 0x00000001
#define SR_SQLITE_OPEN_NOMUTEX 0x00008000     /* we serialise with sr_dv_lock */
#define SR_SQLITE_FCNTL_FILE_POINTER 7
#define SR_WAL_REGION_SIZE 32768               /* WALINDEX_PGSZ */
#define SR_WAL_HDR_SIZE 48                     /* sizeof(WalIndexHdr) */

static pthread_mutex_t sr_dv_lock = PTHREAD_MUTEX_INITIALIZER;
static char *sr_dv_path;          /* set by the core after opening its store */
static sqlite3 *sr_dv_db;
static sqlite3_stmt *sr_dv_stmt;
static const volatile unsigned char *sr_dv_shm;   /* WAL-index region 0, SQLite's mapping */
static int sr_dv_broken;          /* open/prepare/map failed: stay failed until a new path */

static void sr_dv_close_locked(void)
{
    if (sr_dv_stmt != NULL) sqlite3_finalize(sr_dv_stmt);
    if (sr_dv_db != NULL) sqlite3_close_v2(sr_dv_db);
    sr_dv_stmt = NULL;
    sr_dv_db = NULL;
    sr_dv_shm = NULL;
}

/* Python: remember the database path (a new path closes any previous connection). */
static int sr_dv_set_path(const char *path)
{
    char *copy = path != NULL ? strdup(path) : NULL;
    if (path != NULL && copy == NULL) return -1;
    pthread_mutex_lock(&sr_dv_lock);
    sr_dv_close_locked();
    free(sr_dv_path);
    sr_dv_path = copy;
    sr_dv_broken = 0;
    pthread_mutex_unlock(&sr_dv_lock);
    return 0;
}

/* One PRAGMA data_version: a read transaction, so SQLite validates (or recovers) the
 * WAL index and maps it. 0 on success. */
static int sr_dv_step_locked(void)
{
    int rc = sqlite3_step(sr_dv_stmt);
    return (sqlite3_reset(sr_dv_stmt) == SR_SQLITE_OK && rc == SR_SQLITE_ROW) ? 0 : -1;
}

static int sr_dv_open_locked(void)
{
    sr_sqlite3_file *file = NULL;
    void volatile *region = NULL;

    if (sr_dv_path == NULL || sr_dv_broken) return -1;
    if (sqlite3_open_v2(sr_dv_path, &sr_dv_db, SR_SQLITE_OPEN_READONLY | SR_SQLITE_OPEN_NOMUTEX,
                        NULL) != SR_SQLITE_OK
        || sqlite3_busy_timeout(sr_dv_db, 10000) != SR_SQLITE_OK
        || sqlite3_prepare_v2(sr_dv_db, "PRAGMA data_version", -1, &sr_dv_stmt, NULL) != SR_SQLITE_OK
        || sr_dv_step_locked() != 0
        || sqlite3_file_control(sr_dv_db, "main", SR_SQLITE_FCNTL_FILE_POINTER, &file) != SR_SQLITE_OK
        || file == NULL || file->pMethods == NULL || file->pMethods->iVersion < 2
        || file->pMethods->xShmMap == NULL
        || file->pMethods->xShmMap(file, 0, SR_WAL_REGION_SIZE, 0, &region) != SR_SQLITE_OK
        || region == NULL) {
        sr_dv_close_locked();
        sr_dv_broken = 1;
        return -1;
    }
    sr_dv_shm = (const volatile unsigned char *)region;
    return 0;
}

/* Both header copies equal and initialised: 0 and a hash of the header in *out. */
static int sr_dv_try_header(long long *out)
{
    unsigned char a[SR_WAL_HDR_SIZE], b[SR_WAL_HDR_SIZE];
    unsigned long long h = 1469598103934665603ULL;     /* FNV-1a 64 */
    int i;

    for (i = 0; i < SR_WAL_HDR_SIZE; i++) a[i] = sr_dv_shm[i];
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (i = 0; i < SR_WAL_HDR_SIZE; i++) b[i] = sr_dv_shm[SR_WAL_HDR_SIZE + i];
    if (memcmp(a, b, SR_WAL_HDR_SIZE) != 0 || a[12] == 0)  /* a[12]: isInit */
        return -1;
    for (i = 0; i < SR_WAL_HDR_SIZE; i++) { h ^= a[i]; h *= 1099511628211ULL; }
    *out = (long long)(h >> 2);                           /* >= 0 */
    return 0;
}

/* Python: a value that changes whenever any connection committed (>= 0), or -1 (no path,
 * open/map failed, or the index stayed inconsistent) so that the caller falls back to
 * its own connection's PRAGMA data_version. */
static long long sr_dv_read(void)
{
    long long v = -1;
    int round, spin;

    pthread_mutex_lock(&sr_dv_lock);
    if (sr_dv_shm == NULL && sr_dv_open_locked() != 0) goto out;
    for (round = 0; round < 3; round++) {
        for (spin = 0; spin < 100; spin++)
            if (sr_dv_try_header(&v) == 0) goto out;
        if (sr_dv_step_locked() != 0) break;   /* SQLite waits for / recovers the index */
    }
    v = -1;
out:
    pthread_mutex_unlock(&sr_dv_lock);
    return v;
}

/* C_Finalize: close the connection and forget the path. */
static void sr_dv_close(void)
{
    (void)sr_dv_set_path(NULL);
}

/* Forked child: the parent's connection must not be used or closed here. */
static void sr_dv_forget_in_child(void)
{
    pthread_mutex_init(&sr_dv_lock, NULL);
    sr_dv_stmt = NULL;
    sr_dv_db = NULL;
    sr_dv_shm = NULL;
    sr_dv_path = NULL;      /* the parent's copy leaks in the child: a few bytes */
    sr_dv_broken = 0;
}

/* ---- fork ---------------------------------------------------------------------------- */
/* A child must call C_Initialize again (v2.40 §6.7.7): the C flag drops; the Python core
 * notices the new pid in initialize() and forgets inherited sessions / SQLite handles.
 * When we own the interpreter (C host) we also do what os.fork() does for Python:
 * hold the GIL across fork and run PyOS_BeforeFork / AfterFork_*. In a Python host,
 * Python's own os.fork does that and we must not do it twice. */
static PyGILState_STATE sr_fork_gil;
static int sr_fork_held;

static void sr_atfork_prepare(void)
{
    if (__atomic_load_n(&sr_we_own_python, __ATOMIC_ACQUIRE) && Py_IsInitialized()) {
        sr_fork_gil = PyGILState_Ensure();
        PyOS_BeforeFork();
        sr_fork_held = 1;
    }
}

static void sr_atfork_parent(void)
{
    if (sr_fork_held) {
        sr_fork_held = 0;
        PyOS_AfterFork_Parent();
        PyGILState_Release(sr_fork_gil);
    }
}

static void sr_atfork_child(void)
{
    __atomic_store_n(&sr_initialized, 0, __ATOMIC_RELEASE);
    sr_app_mutex = NULL;        /* the parent's: a child must C_Initialize again */
    pthread_mutex_init(&sr_start_lock, NULL);
    sr_dv_forget_in_child();
    if (sr_fork_held) {
        sr_fork_held = 0;
        PyOS_AfterFork_Child();
        PyGILState_Release(sr_fork_gil);
    }
}

/* ---- load time ----------------------------------------------------------------------- */
__attribute__((constructor)) static void sr_constructor(void)
{
    Dl_info info;
    void *sym;

    if (dladdr((void *)&sr_module_path, &info) && info.dli_fname != NULL) {
        if (realpath(info.dli_fname, sr_so_path) == NULL) {
            strncpy(sr_so_path, info.dli_fname, sizeof(sr_so_path) - 1);
        }
    }

    /* Which Python provides Py_GetVersion in our lookup scope? If it is not our own
     * libpython, the host process runs its own Python: it must be our X.Y. */
    sym = dlsym(RTLD_DEFAULT, "Py_GetVersion");
    if (sym != NULL) {
        Dl_info pinfo;
        int ours = dladdr(sym, &pinfo) && pinfo.dli_fname != NULL
                   && sr_same_file(pinfo.dli_fname, SR_LIBPYTHON_PATH);
        if (!ours) {
            const char *v = ((const char *(*)(void))sym)();
            if (!sr_version_matches(v)) {
                size_t i = 0;
                while (v && v[i] && v[i] != ' ' && i < sizeof(sr_host_version) - 1) {
                    sr_host_version[i] = v[i];
                    i++;
                }
                /* keep only "X.Y" */
                {
                    char *dot = strchr(sr_host_version, '.');
                    if (dot && (dot = strchr(dot + 1, '.'))) *dot = '\0';
                }
                sr_disabled = 1;
                return;
            }
        }
    }

    /* A C host dlopen()s us RTLD_LOCAL, so our libpython's symbols are invisible to the
     * extension modules Python loads later (_cffi_backend: "undefined symbol:
     * PyExc_SystemError"). Re-open it RTLD_GLOBAL (NOLOAD: it is already mapped). */
    if (dlopen(SR_LIBPYTHON_PATH, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL) == NULL)
        (void)dlopen(SR_LIBPYTHON_SONAME, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);

    pthread_atfork(sr_atfork_prepare, sr_atfork_parent, sr_atfork_child);
}

/* ---- starting Python ----------------------------------------------------------------- */
/* Runs with the GIL held. Adds the site-packages holding strongroom and its dependencies:
 * the directory two levels above this .so when it is a site-packages directory, then the
 * installing environment's purelib/platlib recorded at build time. .pth files are
 * processed as site.addsitedir does, so editable installs work. In a Python host (owns == 0) the host's
 * sys.path is left alone unless it cannot import strongroom / _cffi_backend. */
static const char SR_SITE_CODE[] =
    "import os, sys\n"
    "def _sr_addsitedir(d):\n"
    "    # site.addsitedir without importing site, and without setuptools'\n"
    "    # distutils-precedence.pth (a distutils shim no PKCS#11 module needs): ~1.5 ms\n"
    "    # of every cold start. Path lines and 'import' lines as site handles them.\n"
    "    sys.path.append(d)\n"
    "    try:\n"
    "        names = sorted(os.listdir(d))\n"
    "    except OSError:\n"
    "        return\n"
    "    for n in names:\n"
    "        if not n.endswith('.pth') or n.startswith('.') or n == 'distutils-precedence.pth':\n"
    "            continue\n"
    "        try:\n"
    "            with open(os.path.join(d, n), encoding='utf-8') as f:\n"
    "                lines = f.read().splitlines()\n"
    "        except (OSError, UnicodeDecodeError):\n"
    "            continue\n"
    "        for line in lines:\n"
    "            s = line.rstrip()\n"
    "            if not s or s.startswith('#'):\n"
    "                continue\n"
    "            if s.startswith(('import ', 'import\\t')):\n"
    "                exec(s)\n"
    "                continue\n"
    "            p = os.path.abspath(os.path.join(d, s))\n"
    "            if p not in sys.path and os.path.exists(p):\n"
    "                sys.path.append(p)\n"
    "def _sr_site(so_path, owns, build_dirs):\n"
    "    cands = []\n"
    "    d = os.path.dirname(os.path.dirname(so_path))\n"
    "    if os.path.basename(d) in ('site-packages', 'dist-packages'):\n"
    "        cands.append(d)\n"
    "    cands += [p for p in build_dirs.split(os.pathsep) if p]\n"
    "    if not owns:\n"
    "        import importlib.util as u\n"
    "        if u.find_spec('_cffi_backend') is not None and u.find_spec('strongroom') is not None:\n"
    "            return\n"
    "    known = set(sys.path)\n"
    "    for c in cands:\n"
    "        if c not in known and os.path.isdir(c):\n"
    "            _sr_addsitedir(c)\n"
    "            known.add(c)\n"
"_sr_site(so_path, owns, build_dirs)\n";

static int sr_add_site_dirs(int owns)
{
    int rc = -1;
    PyObject *g = PyDict_New(), *v, *r;
    if (g == NULL) goto out;
    if (PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins()) < 0) goto out;
    v = PyUnicode_DecodeFSDefault(sr_so_path);
    if (v == NULL || PyDict_SetItemString(g, "so_path", v) < 0) { Py_XDECREF(v); goto out; }
    Py_DECREF(v);
    v = PyUnicode_DecodeFSDefault(SR_SITE_DIRS);
    if (v == NULL || PyDict_SetItemString(g, "build_dirs", v) < 0) { Py_XDECREF(v); goto out; }
    Py_DECREF(v);
    if (PyDict_SetItemString(g, "owns", owns ? Py_True : Py_False) < 0) goto out;
    r = PyRun_String(SR_SITE_CODE, Py_file_input, g, g);
    if (r == NULL) goto out;
    Py_DECREF(r);
    rc = 0;
out:
    if (rc != 0 && PyErr_Occurred()) {
        fprintf(stderr, "strongroom: cannot set up sys.path for the embedded Python:\n");
        PyErr_Print();
    }
    Py_XDECREF(g);
    return rc;
}

static int sr_init_python_isolated(void)
{
    PyStatus status;
    PyConfig config;

    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 0;   /* never take the host's signals */
    config.parse_argv = 0;
    config.site_import = 0;               /* no base site-packages: we add ours below */
    config.user_site_directory = 0;
    status = PyConfig_SetBytesString(&config, &config.home, SR_PYTHON_HOME);
    if (PyStatus_Exception(status)) goto fail;
    status = PyConfig_SetBytesString(&config, &config.program_name, SR_PYTHON_EXE);
    if (PyStatus_Exception(status)) goto fail;
    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status)) goto fail;
    PyConfig_Clear(&config);
    return 0;
fail:
    PyConfig_Clear(&config);
    fprintf(stderr, "strongroom: cannot start the embedded Python %s (home %s): %s\n",
            SR_PY_VERSION, SR_PYTHON_HOME, status.err_msg ? status.err_msg : "exit requested");
    return -1;
}

/* Make sure Python runs and the cffi module (strongroom.abi.entry) is loaded.
 * 0 on success; -1 (for good: we never retry a failed start) otherwise. */
static int sr_start_python(void)
{
    int st = __atomic_load_n(&sr_python_state, __ATOMIC_ACQUIRE);
    if (__builtin_expect(st != 0, 1))
        return st > 0 ? 0 : -1;

    pthread_mutex_lock(&sr_start_lock);
    if (sr_python_state == 0) {
        int ok = 0;
        if (!Py_IsInitialized()) {
            /* C host: our interpreter, configured here, before cffi would call
             * Py_InitializeEx() with defaults (home guessed from the host binary). */
            if (sr_init_python_isolated() == 0) {
                __atomic_store_n(&sr_we_own_python, 1, __ATOMIC_RELEASE);
                ok = sr_add_site_dirs(1);
                (void)PyEval_SaveThread();   /* cffi's startup expects the GIL free */
            } else {
                ok = -1;
            }
        } else {
            PyGILState_STATE g = PyGILState_Ensure();
            ok = sr_add_site_dirs(0);
            PyGILState_Release(g);
        }
        if (ok == 0 && cffi_start_python() != 0)
            ok = -1;
        __atomic_store_n(&sr_python_state, ok == 0 ? 1 : -1, __ATOMIC_RELEASE);
    }
    st = sr_python_state;
    pthread_mutex_unlock(&sr_start_lock);
    return st > 0 ? 0 : -1;
}

/* ---- lifecycle ----------------------------------------------------------------------- */
SR_EXPORT CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
    CK_RV rv;

    if (sr_disabled) {
        fprintf(stderr,
                "strongroom: this PKCS#11 module was built for Python %s but the host process "
                "runs Python %s; one process cannot hold both. Use an application running "
                "Python %s (or a C application).\n",
                SR_PY_VERSION, sr_host_version, SR_PY_VERSION);
        return CKR_GENERAL_ERROR;
    }
    void *app_mutex = NULL;
    CK_C_INITIALIZE_ARGS *a = (CK_C_INITIALIZE_ARGS *)pInitArgs;

    if (a != NULL) {
        int n = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL)
                + (a->LockMutex != NULL) + (a->UnlockMutex != NULL);
        if (a->pReserved != NULL || (n != 0 && n != 4))
            return CKR_ARGUMENTS_BAD;
    }
    if (sr_start_python() != 0)
        return CKR_GENERAL_ERROR;
    if (__atomic_load_n(&sr_initialized, __ATOMIC_ACQUIRE))
        return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    if (a != NULL && a->CreateMutex != NULL && !(a->flags & 0x2 /* CKF_OS_LOCKING_OK */)) {
        /* case 3 of C_Initialize: the application's mutexes (see sr_app_mutex) */
        if (a->CreateMutex(&app_mutex) != CKR_OK || app_mutex == NULL)
            return CKR_CANT_LOCK;
    }
    rv = sr_py_Initialize(pInitArgs);
    if (rv == CKR_OK && app_mutex != NULL) {
        sr_app_lock_fn = a->LockMutex;
        sr_app_unlock_fn = a->UnlockMutex;
        sr_app_destroy_fn = a->DestroyMutex;
        sr_app_mutex = app_mutex;
    } else if (app_mutex != NULL) {
        (void)a->DestroyMutex(app_mutex);
    }
    if (rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
        __atomic_store_n(&sr_initialized, 1, __ATOMIC_RELEASE);
    return rv;
}

SR_EXPORT CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
    CK_RV rv;

    SR_GUARD();
    if (pReserved != NULL)
        return CKR_ARGUMENTS_BAD;
    if (sr_app_mutex != NULL && sr_app_lock_fn(sr_app_mutex) != CKR_OK)
        return CKR_GENERAL_ERROR;
    rv = sr_py_Finalize(pReserved);
    if (sr_app_mutex != NULL)
        (void)sr_app_unlock_fn(sr_app_mutex);
    if (rv == CKR_OK || rv == CKR_CRYPTOKI_NOT_INITIALIZED) {
        __atomic_store_n(&sr_initialized, 0, __ATOMIC_RELEASE);
        sr_dv_close();
        sr_app_mutex_destroy();
    }
    return rv;
}

/* the function lists are defined after the generated wrappers */
static CK_FUNCTION_LIST sr_list_240;
static CK_FUNCTION_LIST_3_0 sr_list_30;
static CK_FUNCTION_LIST_3_2 sr_list_32;
