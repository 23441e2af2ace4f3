/* strongroom bench client: a neutral PKCS#11 client that measures any module through
 * dlopen + C_GetFunctionList only (the same code for every module, no Python).
 *
 *   client MODULE setup LABEL SO_PIN PIN
 *       C_InitToken on the first uninitialised slot, C_InitPIN; prints {"slot": ...}
 *   client MODULE run LABEL PIN [--keys token|session] [--threads N] [--seconds S]
 *                  [--find-n N] [--min-ops K] CASE...
 *       one JSON line per case: N host threads, one session each (the login is the
 *       application's: the main session logs in, the threads' sessions share it), each
 *       thread runs the case in a loop for S seconds and times every operation
 *   client MODULE populate LABEL PIN FROM TO
 *       creates token data objects bench-obj-FROM .. bench-obj-(TO-1), times each create
 *   client MODULE coldstart LABEL PIN [--seconds S] [--min-ops K]
 *       exec's itself (`coldchild`) once per sample: load + C_Initialize + C_OpenSession
 *       + C_Login + C_Finalize in a fresh process; the C_Login share is reported apart
 *   client MODULE mechanisms LABEL      the token's mechanism list (hex, one a line)
 *
 * Cases: getinfo ecdsa_sign ecdsa_verify rsa_pkcs_sign rsa_pss_sign rsa_oaep_decrypt
 *   ed25519_sign aes_gcm_1k aes_gcm_1m sha256_1k sha256_1m hmac_1k keygen_ec keygen_rsa
 *   random32 session find
 * A case the module cannot run (mechanism not listed, CKR_MECHANISM_INVALID,
 * CKR_FUNCTION_NOT_SUPPORTED, ...) is printed with "status": "unsupported"; any other
 * failure with "status": "error". Exit code 0 unless the command line or setup failed. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ck_min.h"

#define RV_WRONG_RESULT 0xB0000001UL   /* ours: call succeeded but the result is wrong */
#define KIB 1024UL
#define MIB (1024UL * 1024UL)

static CK_FUNCTION_LIST *f;
static const char *module_path, *token_label, *pin;
static CK_SLOT_ID slot;
static CK_SESSION_HANDLE main_session;
static int keys_on_token = 1;
static long find_n = 1000;
static long min_ops = 2;
static double seconds = 2.0;

static CK_BYTE TRUE_ = 1, FALSE_ = 0;
static CK_BYTE P256_OID[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static CK_BYTE ED25519_OID[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static CK_BYTE F4[] = {0x01, 0x00, 0x01};

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, CK_RV rv)
{
    fprintf(stderr, "bench client: %s failed: 0x%lx\n", what, rv);
    exit(1);
}

static int is_unsupported(CK_RV rv)
{
    return rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID ||
           rv == CKR_FUNCTION_NOT_SUPPORTED || rv == CKR_CURVE_NOT_SUPPORTED ||
           rv == CKR_DOMAIN_PARAMS_INVALID;
}

/* ---------------------------------------------------------------- module, slot, login */

static void load(void)
{
    void *h = dlopen(module_path, RTLD_NOW | RTLD_LOCAL);
    CK_RV (*get)(CK_FUNCTION_LIST **);
    CK_C_INITIALIZE_ARGS args;
    CK_RV rv;

    if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); exit(1); }
    get = (CK_RV (*)(CK_FUNCTION_LIST **))dlsym(h, "C_GetFunctionList");
    if (!get) { fprintf(stderr, "no C_GetFunctionList in %s\n", module_path); exit(1); }
    if ((rv = get(&f)) != CKR_OK) die("C_GetFunctionList", rv);
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;   /* we call from several threads */
    if ((rv = f->C_Initialize(&args)) != CKR_OK) die("C_Initialize", rv);
}

static int label_is(const CK_BYTE *padded, const char *label)
{
    size_t n = strlen(label), i;
    if (n > 32 || memcmp(padded, label, n) != 0) return 0;
    for (i = n; i < 32; i++)
        if (padded[i] != ' ') return 0;
    return 1;
}

/* the slot whose initialised token has LABEL (wanted_init) or the first uninitialised one */
static int find_slot(const char *label, int want_uninit, CK_SLOT_ID *out)
{
    CK_SLOT_ID slots[256];
    CK_ULONG n = 256, i;
    CK_TOKEN_INFO ti;
    CK_RV rv;

    if ((rv = f->C_GetSlotList(1, slots, &n)) != CKR_OK) die("C_GetSlotList", rv);
    for (i = 0; i < n; i++) {
        if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK) continue;
        if (want_uninit ? !(ti.flags & CKF_TOKEN_INITIALIZED)
                        : ((ti.flags & CKF_TOKEN_INITIALIZED) && label_is(ti.label, label))) {
            *out = slots[i];
            return 1;
        }
    }
    return 0;
}

static void open_and_login(void)
{
    CK_RV rv;
    if (!find_slot(token_label, 0, &slot)) { fprintf(stderr, "no token labelled %s\n", token_label); exit(1); }
    rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &main_session);
    if (rv != CKR_OK) die("C_OpenSession", rv);
    rv = f->C_Login(main_session, CKU_USER, (CK_BYTE *)pin, strlen(pin));
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) die("C_Login", rv);
}

static int mechanism_listed(CK_ULONG mech)
{
    static CK_ULONG list[1024];
    static CK_ULONG n = 0;
    static int loaded = 0;
    CK_ULONG i;
    if (!loaded) {
        n = 1024;
        if (f->C_GetMechanismList(slot, list, &n) != CKR_OK) n = 0;
        loaded = 1;
    }
    for (i = 0; i < n; i++)
        if (list[i] == mech) return 1;
    return 0;
}

/* ---------------------------------------------------------------- keys */

enum keykind { K_EC, K_RSA, K_ED, K_AES, K_HMAC, K_COUNT };
static const char *key_labels[K_COUNT] = {"bench-ec", "bench-rsa", "bench-ed", "bench-aes", "bench-hmac"};
static const CK_ULONG key_genmech[K_COUNT] = {CKM_EC_KEY_PAIR_GEN, CKM_RSA_PKCS_KEY_PAIR_GEN,
                                              CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_AES_KEY_GEN,
                                              CKM_GENERIC_SECRET_KEY_GEN};

typedef struct { CK_OBJECT_HANDLE priv, pub; int ready; CK_RV rv; const char *where; } keypair;
static keypair keys[K_COUNT];

#define ATTR(t, p, n) {(t), (void *)(p), (n)}

/* key generation (the bench keys and the keygen cases share it). label may be NULL. */
static CK_RV gen_key(CK_SESSION_HANDLE s, enum keykind kind, CK_BYTE token, const char *label,
                     CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub)
{
    CK_MECHANISM m = {key_genmech[kind], NULL, 0};
    CK_ULONG bits = 2048, len32 = 32, cls_secret = CKO_SECRET_KEY;
    CK_ULONG ktype = kind == K_AES ? CKK_AES : CKK_GENERIC_SECRET;
    CK_ULONG llen = label ? strlen(label) : 0;
    CK_ATTRIBUTE pubt[8], privt[8], sect[10];
    CK_ULONG np = 0, nv = 0, ns = 0;

    *pub = 0;
    switch (kind) {
    case K_EC: case K_RSA: case K_ED:
        pubt[np++] = (CK_ATTRIBUTE)ATTR(CKA_TOKEN, &token, 1);
        pubt[np++] = (CK_ATTRIBUTE)ATTR(CKA_VERIFY, &TRUE_, 1);
        privt[nv++] = (CK_ATTRIBUTE)ATTR(CKA_TOKEN, &token, 1);
        privt[nv++] = (CK_ATTRIBUTE)ATTR(CKA_PRIVATE, &TRUE_, 1);
        privt[nv++] = (CK_ATTRIBUTE)ATTR(CKA_SENSITIVE, &TRUE_, 1);
        privt[nv++] = (CK_ATTRIBUTE)ATTR(CKA_SIGN, &TRUE_, 1);
        if (label) {
            pubt[np++] = (CK_ATTRIBUTE)ATTR(CKA_LABEL, label, llen);
            privt[nv++] = (CK_ATTRIBUTE)ATTR(CKA_LABEL, label, llen);
        }
        if (kind == K_EC) pubt[np++] = (CK_ATTRIBUTE)ATTR(CKA_EC_PARAMS, P256_OID, sizeof P256_OID);
        if (kind == K_ED) pubt[np++] = (CK_ATTRIBUTE)ATTR(CKA_EC_PARAMS, ED25519_OID, sizeof ED25519_OID);
        if (kind == K_RSA) {
            pubt[np++] = (CK_ATTRIBUTE)ATTR(CKA_MODULUS_BITS, &bits, sizeof bits);
            pubt[np++] = (CK_ATTRIBUTE)ATTR(CKA_PUBLIC_EXPONENT, F4, sizeof F4);
            pubt[np++] = (CK_ATTRIBUTE)ATTR(CKA_ENCRYPT, &TRUE_, 1);
            privt[nv++] = (CK_ATTRIBUTE)ATTR(CKA_DECRYPT, &TRUE_, 1);
        }
        return f->C_GenerateKeyPair(s, &m, pubt, np, privt, nv, pub, priv);
    default:
        sect[ns++] = (CK_ATTRIBUTE)ATTR(CKA_CLASS, &cls_secret, sizeof cls_secret);
        sect[ns++] = (CK_ATTRIBUTE)ATTR(CKA_KEY_TYPE, &ktype, sizeof ktype);
        sect[ns++] = (CK_ATTRIBUTE)ATTR(CKA_TOKEN, &token, 1);
        sect[ns++] = (CK_ATTRIBUTE)ATTR(CKA_PRIVATE, &TRUE_, 1);
        sect[ns++] = (CK_ATTRIBUTE)ATTR(CKA_SENSITIVE, &TRUE_, 1);
        sect[ns++] = (CK_ATTRIBUTE)ATTR(CKA_VALUE_LEN, &len32, sizeof len32);
        if (kind == K_AES) {
            sect[ns++] = (CK_ATTRIBUTE)ATTR(CKA_ENCRYPT, &TRUE_, 1);
            sect[ns++] = (CK_ATTRIBUTE)ATTR(CKA_DECRYPT, &TRUE_, 1);
        } else {
            sect[ns++] = (CK_ATTRIBUTE)ATTR(CKA_SIGN, &TRUE_, 1);
            sect[ns++] = (CK_ATTRIBUTE)ATTR(CKA_VERIFY, &TRUE_, 1);
        }
        if (label) sect[ns++] = (CK_ATTRIBUTE)ATTR(CKA_LABEL, label, llen);
        return f->C_GenerateKey(s, &m, sect, ns, priv);
    }
}

static CK_RV find_one(CK_SESSION_HANDLE s, CK_ULONG cls, const char *label, CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE t[2] = {ATTR(CKA_CLASS, &cls, sizeof cls), ATTR(CKA_LABEL, label, strlen(label))};
    CK_OBJECT_HANDLE h[2];
    CK_ULONG n = 0;
    CK_RV rv = f->C_FindObjectsInit(s, t, 2);
    if (rv != CKR_OK) return rv;
    rv = f->C_FindObjects(s, h, 2, &n);
    f->C_FindObjectsFinal(s);
    if (rv != CKR_OK) return rv;
    if (n != 1) return RV_WRONG_RESULT;
    *out = h[0];
    return CKR_OK;
}

/* the bench key of KIND: token mode finds it by label (generating it as a token object
 * the first time), session mode generates a session object once per process */
static keypair *get_key(enum keykind kind)
{
    keypair *k = &keys[kind];
    int pair = kind == K_EC || kind == K_RSA || kind == K_ED;
    if (k->ready) return k;
    k->ready = 1;
    if (!mechanism_listed(key_genmech[kind])) {
        k->rv = CKR_MECHANISM_INVALID; k->where = "C_GetMechanismList";
        return k;
    }
    if (keys_on_token &&
        find_one(main_session, pair ? CKO_PRIVATE_KEY : CKO_SECRET_KEY, key_labels[kind], &k->priv) == CKR_OK &&
        (!pair || find_one(main_session, CKO_PUBLIC_KEY, key_labels[kind], &k->pub) == CKR_OK)) {
        k->rv = CKR_OK;
        return k;
    }
    k->rv = gen_key(main_session, kind, keys_on_token ? TRUE_ : FALSE_, key_labels[kind], &k->priv, &k->pub);
    k->where = kind == K_AES || kind == K_HMAC ? "C_GenerateKey" : "C_GenerateKeyPair";
    return k;
}

/* ---------------------------------------------------------------- cases */

typedef struct thr {
    int id;
    CK_SESSION_HANDLE s;
    CK_BYTE *in, *out;
    uint64_t *lat;
    long n, cap;
    CK_OBJECT_HANDLE *made;   /* keygen cases: objects to destroy after the timed loop */
    long nmade, capmade;
    CK_BYTE iv[12];
    uint64_t start, end;
    CK_RV rv;
    struct caseinfo *c;
} thr;

typedef struct caseinfo {
    const char *name;
    CK_ULONG mech;            /* checked in C_GetMechanismList (0 = none) */
    int key;                  /* enum keykind, or -1 */
    CK_RV (*op)(thr *);
    CK_RV (*prepare)(void);   /* main thread, before the threads start (may be NULL) */
    const char *prep_where;
} caseinfo;

static CK_BYTE digest32[32], msg1k[KIB];
static CK_BYTE ecdsa_sig[256], oaep_ct[512];
static CK_ULONG ecdsa_sig_len, oaep_ct_len;
static CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
static CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};

static CK_RV sign_with(thr *t, CK_ULONG mech, void *param, CK_ULONG plen, CK_OBJECT_HANDLE key,
                       CK_BYTE *data, CK_ULONG len)
{
    CK_MECHANISM m = {mech, param, plen};
    CK_ULONG outlen = 1024;
    CK_RV rv = f->C_SignInit(t->s, &m, key);
    if (rv != CKR_OK) return rv;
    return f->C_Sign(t->s, data, len, t->out, &outlen);
}

static CK_RV op_getinfo(thr *t) { CK_INFO i; (void)t; return f->C_GetInfo(&i); }
static CK_RV op_ecdsa_sign(thr *t) { return sign_with(t, CKM_ECDSA, NULL, 0, keys[K_EC].priv, digest32, 32); }
static CK_RV op_ed25519_sign(thr *t) { return sign_with(t, CKM_EDDSA, NULL, 0, keys[K_ED].priv, digest32, 32); }
static CK_RV op_rsa_pkcs_sign(thr *t) { return sign_with(t, CKM_SHA256_RSA_PKCS, NULL, 0, keys[K_RSA].priv, msg1k, KIB); }
static CK_RV op_rsa_pss_sign(thr *t)
{
    return sign_with(t, CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss, keys[K_RSA].priv, msg1k, KIB);
}
static CK_RV op_hmac_1k(thr *t) { return sign_with(t, CKM_SHA256_HMAC, NULL, 0, keys[K_HMAC].priv, msg1k, KIB); }

static CK_RV prep_ecdsa_verify(void)
{
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    CK_RV rv = f->C_SignInit(main_session, &m, keys[K_EC].priv);
    ecdsa_sig_len = sizeof ecdsa_sig;
    if (rv == CKR_OK) rv = f->C_Sign(main_session, digest32, 32, ecdsa_sig, &ecdsa_sig_len);
    return rv;
}
static CK_RV op_ecdsa_verify(thr *t)
{
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    CK_RV rv = f->C_VerifyInit(t->s, &m, keys[K_EC].pub);
    if (rv != CKR_OK) return rv;
    return f->C_Verify(t->s, digest32, 32, ecdsa_sig, ecdsa_sig_len);
}

static CK_RV prep_oaep(void)
{
    CK_MECHANISM m = {CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep};
    CK_RV rv = f->C_EncryptInit(main_session, &m, keys[K_RSA].pub);
    oaep_ct_len = sizeof oaep_ct;
    if (rv == CKR_OK) rv = f->C_Encrypt(main_session, digest32, 32, oaep_ct, &oaep_ct_len);
    return rv;
}
static CK_RV op_rsa_oaep_decrypt(thr *t)
{
    CK_MECHANISM m = {CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep};
    CK_ULONG outlen = 1024;
    CK_RV rv = f->C_DecryptInit(t->s, &m, keys[K_RSA].priv);
    if (rv != CKR_OK) return rv;
    rv = f->C_Decrypt(t->s, oaep_ct, oaep_ct_len, t->out, &outlen);
    if (rv == CKR_OK && (outlen != 32 || memcmp(t->out, digest32, 32) != 0)) return RV_WRONG_RESULT;
    return rv;
}

static CK_RV aes_gcm(thr *t, CK_ULONG len)
{
    CK_GCM_PARAMS p = {t->iv, 12, 96, NULL, 0, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &p, sizeof p};
    CK_ULONG outlen = len + 16;
    CK_RV rv;
    int i;
    for (i = 11; i >= 0 && ++t->iv[i] == 0; i--) ;   /* a fresh IV per message */
    rv = f->C_EncryptInit(t->s, &m, keys[K_AES].priv);
    if (rv != CKR_OK) return rv;
    rv = f->C_Encrypt(t->s, t->in, len, t->out, &outlen);
    if (rv == CKR_OK && outlen != len + 16) return RV_WRONG_RESULT;
    return rv;
}
static CK_RV op_aes_gcm_1k(thr *t) { return aes_gcm(t, KIB); }
static CK_RV op_aes_gcm_1m(thr *t) { return aes_gcm(t, MIB); }

static CK_RV sha256(thr *t, CK_ULONG len)
{
    CK_MECHANISM m = {CKM_SHA256, NULL, 0};
    CK_ULONG outlen = 64;
    CK_RV rv = f->C_DigestInit(t->s, &m);
    if (rv != CKR_OK) return rv;
    rv = f->C_Digest(t->s, t->in, len, t->out, &outlen);
    if (rv == CKR_OK && outlen != 32) return RV_WRONG_RESULT;
    return rv;
}
static CK_RV op_sha256_1k(thr *t) { return sha256(t, KIB); }
static CK_RV op_sha256_1m(thr *t) { return sha256(t, MIB); }

static CK_RV keygen(thr *t, enum keykind kind)
{
    CK_OBJECT_HANDLE priv, pub;
    CK_RV rv = gen_key(t->s, kind, keys_on_token ? TRUE_ : FALSE_, NULL, &priv, &pub);
    if (rv != CKR_OK) return rv;
    if (t->nmade + 2 > t->capmade) {
        t->capmade = t->capmade ? 2 * t->capmade : 1024;
        t->made = realloc(t->made, t->capmade * sizeof *t->made);
        if (!t->made) { perror("realloc"); exit(1); }
    }
    t->made[t->nmade++] = priv;
    t->made[t->nmade++] = pub;
    return CKR_OK;
}
static CK_RV op_keygen_ec(thr *t) { return keygen(t, K_EC); }
static CK_RV op_keygen_rsa(thr *t) { return keygen(t, K_RSA); }

static CK_RV op_random32(thr *t) { return f->C_GenerateRandom(t->s, t->out, 32); }

static CK_RV op_session(thr *t)
{
    CK_SESSION_HANDLE s;
    CK_RV rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
    (void)t;
    if (rv != CKR_OK) return rv;
    return f->C_CloseSession(s);
}

static CK_RV op_find(thr *t)
{
    char label[32];
    CK_OBJECT_HANDLE h;
    long k = (long)(((uint64_t)t->n * 7919u + (uint64_t)t->id * 4099u) % (uint64_t)find_n);
    snprintf(label, sizeof label, "bench-obj-%ld", k);
    return find_one(t->s, CKO_DATA, label, &h);
}

static caseinfo cases[] = {
    {"getinfo", 0, -1, op_getinfo, NULL, NULL},
    {"ecdsa_sign", CKM_ECDSA, K_EC, op_ecdsa_sign, NULL, NULL},
    {"ecdsa_verify", CKM_ECDSA, K_EC, op_ecdsa_verify, prep_ecdsa_verify, "C_Sign (making the signature)"},
    {"rsa_pkcs_sign", CKM_SHA256_RSA_PKCS, K_RSA, op_rsa_pkcs_sign, NULL, NULL},
    {"rsa_pss_sign", CKM_SHA256_RSA_PKCS_PSS, K_RSA, op_rsa_pss_sign, NULL, NULL},
    {"rsa_oaep_decrypt", CKM_RSA_PKCS_OAEP, K_RSA, op_rsa_oaep_decrypt, prep_oaep, "C_Encrypt (making the ciphertext)"},
    {"ed25519_sign", CKM_EDDSA, K_ED, op_ed25519_sign, NULL, NULL},
    {"aes_gcm_1k", CKM_AES_GCM, K_AES, op_aes_gcm_1k, NULL, NULL},
    {"aes_gcm_1m", CKM_AES_GCM, K_AES, op_aes_gcm_1m, NULL, NULL},
    {"sha256_1k", CKM_SHA256, -1, op_sha256_1k, NULL, NULL},
    {"sha256_1m", CKM_SHA256, -1, op_sha256_1m, NULL, NULL},
    {"hmac_1k", CKM_SHA256_HMAC, K_HMAC, op_hmac_1k, NULL, NULL},
    {"keygen_ec", CKM_EC_KEY_PAIR_GEN, -1, op_keygen_ec, NULL, NULL},
    {"keygen_rsa", CKM_RSA_PKCS_KEY_PAIR_GEN, -1, op_keygen_rsa, NULL, NULL},
    {"random32", 0, -1, op_random32, NULL, NULL},
    {"session", 0, -1, op_session, NULL, NULL},
    {"find", 0, -1, op_find, NULL, NULL},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* ---------------------------------------------------------------- running */

static uint64_t deadline_ns;
static pthread_barrier_t barrier;

static void *thread_main(void *arg)
{
    thr *t = arg;
    uint64_t prev, now;
    long i;
    CK_RV rv;

    rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &t->s);
    pthread_barrier_wait(&barrier);
    if (rv != CKR_OK) { t->rv = rv; return NULL; }
    t->start = prev = now_ns();
    for (;;) {
        rv = t->c->op(t);
        now = now_ns();
        if (rv != CKR_OK) { t->rv = rv; break; }
        if (t->n == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 65536;
            t->lat = realloc(t->lat, t->cap * sizeof *t->lat);
            if (!t->lat) { perror("realloc"); exit(1); }
            t->lat[t->n++] = now - prev;
            prev = now_ns();   /* do not charge the growth to the next op */
        } else {
            t->lat[t->n++] = now - prev;
            prev = now;
        }
        if (now >= deadline_ns && t->n >= min_ops) break;
    }
    t->end = now;
    for (i = 0; i < t->nmade; i++) f->C_DestroyObject(t->s, t->made[i]);
    f->C_CloseSession(t->s);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void print_head(const char *name, int nthreads)
{
    printf("{\"case\": \"%s\", \"keys\": \"%s\", \"threads\": %d", name,
           keys_on_token ? "token" : "session", nthreads);
    if (strcmp(name, "find") == 0) printf(", \"objects\": %ld", find_n);
}

static void print_stats(uint64_t *all, long total, double wall_s)
{
    qsort(all, total, sizeof *all, cmp_u64);
    printf(", \"status\": \"ok\", \"ops\": %ld, \"seconds\": %.4f, \"ops_per_s\": %.2f, "
           "\"median_us\": %.3f, \"p99_us\": %.3f, \"min_us\": %.3f, \"max_us\": %.3f}\n",
           total, wall_s, total / wall_s, all[total / 2] / 1e3,
           all[(total * 99) / 100 < total ? (total * 99) / 100 : total - 1] / 1e3,
           all[0] / 1e3, all[total - 1] / 1e3);
}

static void run_case(caseinfo *c, int nthreads)
{
    thr *ts = calloc(nthreads, sizeof *ts);
    pthread_t *tids = calloc(nthreads, sizeof *tids);
    uint64_t *all, start = UINT64_MAX, end = 0;
    long total = 0, i, j;
    CK_RV rv = CKR_OK;
    const char *where = NULL;

    print_head(c->name, nthreads);
    if (c->mech && !mechanism_listed(c->mech)) {
        printf(", \"status\": \"unsupported\", \"where\": \"C_GetMechanismList\", \"rv\": \"0x%lx\"}\n",
               CKR_MECHANISM_INVALID);
        goto out;
    }
    if (c->key >= 0) {
        keypair *k = get_key((enum keykind)c->key);
        rv = k->rv; where = k->where;
    }
    if (rv == CKR_OK && c->prepare) { rv = c->prepare(); where = c->prep_where; }
    if (rv != CKR_OK) {
        printf(", \"status\": \"%s\", \"where\": \"%s\", \"rv\": \"0x%lx\"}\n",
               is_unsupported(rv) ? "unsupported" : "error", where, rv);
        goto out;
    }
    pthread_barrier_init(&barrier, NULL, nthreads + 1);
    for (i = 0; i < nthreads; i++) {
        ts[i].id = (int)i;
        ts[i].c = c;
        ts[i].in = malloc(MIB + 64);
        ts[i].out = malloc(MIB + 64);
        memset(ts[i].in, 0x5a, MIB + 64);
        memset(ts[i].iv, 0, sizeof ts[i].iv);
        ts[i].iv[0] = (CK_BYTE)i;
        if (pthread_create(&tids[i], NULL, thread_main, &ts[i]) != 0) { perror("pthread_create"); exit(1); }
    }
    deadline_ns = now_ns() + (uint64_t)(seconds * 1e9);
    pthread_barrier_wait(&barrier);
    for (i = 0; i < nthreads; i++) pthread_join(tids[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (i = 0; i < nthreads; i++) {
        if (ts[i].rv != CKR_OK && rv == CKR_OK) rv = ts[i].rv;
        total += ts[i].n;
        if (ts[i].start < start) start = ts[i].start;
        if (ts[i].end > end) end = ts[i].end;
    }
    if (rv != CKR_OK) {
        printf(", \"status\": \"%s\", \"where\": \"timed loop\", \"rv\": \"0x%lx\", \"ops\": %ld}\n",
               is_unsupported(rv) ? "unsupported" : "error", rv, total);
    } else {
        all = malloc((total ? total : 1) * sizeof *all);
        for (i = 0, j = 0; i < nthreads; j += ts[i].n, i++)
            memcpy(all + j, ts[i].lat, ts[i].n * sizeof *all);
        print_stats(all, total, (end - start) / 1e9);
        free(all);
    }
    for (i = 0; i < nthreads; i++) { free(ts[i].in); free(ts[i].out); free(ts[i].lat); free(ts[i].made); }
out:
    fflush(stdout);
    free(ts);
    free(tids);
}

/* ---------------------------------------------------------------- populate, cold start, setup */

static void populate(long from, long to)
{
    CK_ULONG cls = CKO_DATA;
    CK_BYTE value[32];
    char label[32];
    CK_ATTRIBUTE t[5] = {ATTR(CKA_CLASS, &cls, sizeof cls), ATTR(CKA_TOKEN, &TRUE_, 1),
                         ATTR(CKA_PRIVATE, &TRUE_, 1), ATTR(CKA_LABEL, label, 0),
                         ATTR(CKA_VALUE, value, sizeof value)};
    uint64_t *lat = malloc((to - from + 1) * sizeof *lat), t0, t1, start;
    CK_OBJECT_HANDLE h;
    long i;
    CK_RV rv;

    memset(value, 0xa5, sizeof value);
    start = t0 = now_ns();
    for (i = from; i < to; i++) {
        snprintf(label, sizeof label, "bench-obj-%ld", i);
        t[3].ulValueLen = strlen(label);
        rv = f->C_CreateObject(main_session, t, 5, &h);
        t1 = now_ns();
        if (rv != CKR_OK) {
            printf("{\"case\": \"create_object\", \"keys\": \"token\", \"threads\": 1, \"objects\": %ld, "
                   "\"status\": \"error\", \"where\": \"C_CreateObject\", \"rv\": \"0x%lx\"}\n", i, rv);
            return;
        }
        lat[i - from] = t1 - t0;
        t0 = t1;
    }
    printf("{\"case\": \"create_object\", \"keys\": \"token\", \"threads\": 1, \"objects\": %ld", to);
    print_stats(lat, to - from, (t0 - start) / 1e9);
    free(lat);
}

/* in a fresh process: print "init open login finalize" in nanoseconds */
static int coldchild(void)
{
    uint64_t t0 = now_ns(), t1, t2, t3, t4;
    CK_RV rv;
    load();
    t1 = now_ns();
    if (!find_slot(token_label, 0, &slot)) return 1;
    rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &main_session);
    if (rv != CKR_OK) die("C_OpenSession", rv);
    t2 = now_ns();
    if ((rv = f->C_Login(main_session, CKU_USER, (CK_BYTE *)pin, strlen(pin))) != CKR_OK) die("C_Login", rv);
    t3 = now_ns();
    if ((rv = f->C_Finalize(NULL)) != CKR_OK) die("C_Finalize", rv);
    t4 = now_ns();
    printf("%llu %llu %llu %llu\n", (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1),
           (unsigned long long)(t3 - t2), (unsigned long long)(t4 - t3));
    fflush(stdout);
    return 0;
}

static void print_dist(const char *name, uint64_t *v, long n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    printf(", \"%s_median_ms\": %.3f, \"%s_p99_ms\": %.3f", name, v[n / 2] / 1e6, name,
           v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1e6);
}

static void coldstart(const char *self)
{
    enum { MAXS = 100000 };
    static uint64_t tot[MAXS], login[MAXS], excl[MAXS], init[MAXS], wall[MAXS];
    uint64_t start = now_ns(), deadline = start + (uint64_t)(seconds * 1e9), w0;
    long n = 0;

    while (n < MAXS && (n < min_ops || now_ns() < deadline)) {
        int fds[2], status;
        unsigned long long a, b, c, d;
        char buf[256];
        ssize_t got, len = 0;
        pid_t pid;

        if (pipe(fds) != 0) { perror("pipe"); exit(1); }
        w0 = now_ns();
        pid = fork();
        if (pid == 0) {
            dup2(fds[1], 1);
            close(fds[0]); close(fds[1]);
            execl(self, self, module_path, "coldchild", token_label, pin, (char *)NULL);
            _exit(127);
        }
        close(fds[1]);
        while ((got = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0) len += got;
        close(fds[0]);
        waitpid(pid, &status, 0);
        wall[n] = now_ns() - w0;
        buf[len] = 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || sscanf(buf, "%llu %llu %llu %llu", &a, &b, &c, &d) != 4) {
            printf("{\"case\": \"coldstart\", \"keys\": \"token\", \"threads\": 1, \"status\": \"error\", "
                   "\"where\": \"child\", \"rv\": \"exit %d\"}\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            return;
        }
        init[n] = a;
        login[n] = c;
        tot[n] = a + b + c + d;
        excl[n] = a + b + d;
        n++;
    }
    printf("{\"case\": \"coldstart\", \"keys\": \"token\", \"threads\": 1, \"status\": \"ok\", \"ops\": %ld, "
           "\"seconds\": %.4f", n, (now_ns() - start) / 1e9);
    print_dist("total", tot, n);
    print_dist("excl_login", excl, n);
    print_dist("login", login, n);
    print_dist("init", init, n);
    print_dist("wall", wall, n);
    printf(", \"ops_per_s\": %.3f, \"median_us\": %.3f, \"p99_us\": %.3f}\n", 1e9 / tot[n / 2], tot[n / 2] / 1e3,
           tot[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1e3);
}

static void setup(const char *so_pin)
{
    CK_BYTE label[32];
    CK_SESSION_HANDLE s;
    CK_RV rv;
    size_t n = strlen(token_label);

    if (!find_slot(NULL, 1, &slot)) { fprintf(stderr, "no uninitialised slot\n"); exit(1); }
    memset(label, ' ', 32);
    memcpy(label, token_label, n > 32 ? 32 : n);
    if ((rv = f->C_InitToken(slot, (CK_BYTE *)so_pin, strlen(so_pin), label)) != CKR_OK) die("C_InitToken", rv);
    /* some modules (SoftHSM2) renumber the slot after C_InitToken: look it up again */
    f->C_Finalize(NULL);
    load();
    if (!find_slot(token_label, 0, &slot)) { fprintf(stderr, "token not found after C_InitToken\n"); exit(1); }
    if ((rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s)) != CKR_OK)
        die("C_OpenSession", rv);
    if ((rv = f->C_Login(s, CKU_SO, (CK_BYTE *)so_pin, strlen(so_pin))) != CKR_OK) die("C_Login(SO)", rv);
    if ((rv = f->C_InitPIN(s, (CK_BYTE *)pin, strlen(pin))) != CKR_OK) die("C_InitPIN", rv);
    if ((rv = f->C_Logout(s)) != CKR_OK) die("C_Logout", rv);
    f->C_CloseSession(s);
    printf("{\"slot\": %lu}\n", slot);
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
    fprintf(stderr, "usage: client MODULE setup|run|populate|coldstart|mechanisms LABEL ... (see client.c)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *cmd, *names[64];
    int nnames = 0, nthreads = 1, i;
    size_t k;
    char self[4096];
    ssize_t sl;

    if (argc < 4) usage();
    module_path = argv[1];
    cmd = argv[2];
    token_label = argv[3];
    if (strcmp(cmd, "coldchild") == 0) {
        if (argc < 5) usage();
        pin = argv[4];
        return coldchild();
    }
    for (i = 4; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0 && i + 1 < argc) {
            const char *o = argv[i] + 2, *v = argv[++i];
            if (!strcmp(o, "keys")) keys_on_token = strcmp(v, "session") != 0;
            else if (!strcmp(o, "threads")) nthreads = atoi(v);
            else if (!strcmp(o, "seconds")) seconds = atof(v);
            else if (!strcmp(o, "find-n")) find_n = atol(v);
            else if (!strcmp(o, "min-ops")) min_ops = atol(v);
            else usage();
        } else if (nnames < 64) {
            names[nnames++] = argv[i];
        }
    }
    if (nthreads < 1 || find_n < 1) usage();
    memset(digest32, 0x42, sizeof digest32);
    memset(msg1k, 0x17, sizeof msg1k);
    load();

    if (!strcmp(cmd, "setup")) {
        if (nnames < 2) usage();
        pin = names[1];
        setup(names[0]);
    } else if (!strcmp(cmd, "mechanisms")) {
        CK_ULONG list[1024], n = 1024, j;
        if (!find_slot(token_label, 0, &slot)) return 1;
        if (f->C_GetMechanismList(slot, list, &n) != CKR_OK) return 1;
        for (j = 0; j < n; j++) printf("0x%lx\n", list[j]);
    } else if (!strcmp(cmd, "run") || !strcmp(cmd, "populate") || !strcmp(cmd, "coldstart")) {
        if (nnames < 1) usage();
        pin = names[0];
        if (!strcmp(cmd, "coldstart")) {
            f->C_Finalize(NULL);   /* the parent holds nothing open while children start */
            sl = readlink("/proc/self/exe", self, sizeof self - 1);
            if (sl <= 0) { perror("readlink"); return 1; }
            self[sl] = 0;
            coldstart(self);
            return 0;
        }
        open_and_login();
        if (!strcmp(cmd, "populate")) {
            if (nnames < 3) usage();
            populate(atol(names[1]), atol(names[2]));
        } else {
            for (i = 1; i < nnames; i++) {
                for (k = 0; k < NCASES; k++)
                    if (!strcmp(cases[k].name, names[i])) break;
                if (k == NCASES) { fprintf(stderr, "unknown case %s\n", names[i]); return 2; }
                run_case(&cases[k], nthreads);
            }
        }
        f->C_Logout(main_session);
        f->C_CloseSession(main_session);
    } else {
        usage();
    }
    f->C_Finalize(NULL);
    return 0;
}
