/* A PKCS#11 module that wraps another (FILTER_MODULE_TARGET) and hides Ed25519: its
 * mechanism list drops CKM_EDDSA / CKM_EC_EDWARDS_KEY_PAIR_GEN and C_GenerateKeyPair
 * refuses CKM_EC_EDWARDS_KEY_PAIR_GEN with CKR_MECHANISM_INVALID. Used by the bench smoke
 * test to check that the client reports unsupported cases instead of skipping them.
 * FILTER_MODULE_LIST_ALL=1 keeps the list intact, so the refusal comes from the call. */
#include <dlfcn.h>
#include <stdlib.h>
#include "ck_min.h"

static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST mine;

static CK_RV mech_list(CK_SLOT_ID slot, CK_ULONG *list, CK_ULONG *count)
{
    CK_ULONG all[1024], n = 1024, i, k = 0;
    CK_RV rv = real->C_GetMechanismList(slot, all, &n);
    int keep_all = getenv("FILTER_MODULE_LIST_ALL") != NULL;
    if (rv != CKR_OK) return rv;
    for (i = 0; i < n; i++)
        if (keep_all || (all[i] != CKM_EDDSA && all[i] != CKM_EC_EDWARDS_KEY_PAIR_GEN)) all[k++] = all[i];
    if (list) {
        if (*count < k) { *count = k; return 0x150UL; /* CKR_BUFFER_TOO_SMALL */ }
        for (i = 0; i < k; i++) list[i] = all[i];
    }
    *count = k;
    return CKR_OK;
}

static CK_RV gen_pair(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_ATTRIBUTE *pub, CK_ULONG npub,
                      CK_ATTRIBUTE *priv, CK_ULONG npriv, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv)
{
    if (m && m->mechanism == CKM_EC_EDWARDS_KEY_PAIR_GEN) return CKR_MECHANISM_INVALID;
    return real->C_GenerateKeyPair(s, m, pub, npub, priv, npriv, hpub, hpriv);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST **out)
{
    if (!real) {
        void *h = dlopen(getenv("FILTER_MODULE_TARGET"), RTLD_NOW | RTLD_LOCAL);
        CK_RV (*get)(CK_FUNCTION_LIST **);
        if (!h) return 0x5UL;   /* CKR_GENERAL_ERROR */
        get = (CK_RV (*)(CK_FUNCTION_LIST **))dlsym(h, "C_GetFunctionList");
        if (!get || get(&real) != CKR_OK) return 0x5UL;
        mine = *real;
        mine.C_GetMechanismList = mech_list;
        mine.C_GenerateKeyPair = gen_pair;
    }
    *out = &mine;
    return CKR_OK;
}
