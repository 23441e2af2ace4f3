/* strongroom_vendor.h -- strongroom's vendor functions in libstrongroom.so.
 *
 * Include your PKCS#11 header (pkcs11.h, for CK_ULONG, CK_RV, CK_SLOT_ID, CK_VERSION)
 * before this file. Installed with the Python package next to the module's sources
 * (strongroom/abi/strongroom_vendor.h).
 *
 * Two functions let the store owner's tools (the strongroom command line) read a
 * token's store figures and remove a token through the module, instead of opening the
 * token store a second time beside it. Both are exported under their own names and also
 * reachable as the interface "strongroom" version 1.0 (C_GetInterfaceList,
 * C_GetInterface("strongroom", {1, 0}, ...)), whose function list is SR_FUNCTION_LIST.
 * The default interface (C_GetInterface with a NULL name) stays "PKCS 11" 3.0.
 *
 * Like every PKCS#11 function they need C_Initialize first (CKR_CRYPTOKI_NOT_INITIALIZED)
 * and run inside the application's mutex when C_Initialize was given one.
 *
 * CK_RV SR_GetTokenUsage(CK_SLOT_ID slotID, SR_TOKEN_USAGE *pUsage)
 *     Fills *pUsage with the figures of the token in slotID: objects stored, bytes they
 *     use, the quotas (strongroom.toml quota_objects / quota_bytes; C_GetTokenInfo reports
 *     the byte quota as ulTotalPublicMemory and quota - used as ulFreePublicMemory), the
 *     failed user / SO logins in a row and how many lock a PIN (pin_max_tries).
 *     CKR_ARGUMENTS_BAD (pUsage NULL), CKR_SLOT_ID_INVALID, CKR_TOKEN_NOT_RECOGNIZED
 *     (a free slot: no token initialised there).
 *
 * CK_RV SR_DeleteToken(CK_SLOT_ID slotID)
 *     Removes the token in slotID with all its objects, without any PIN: whoever can
 *     write the token store can delete its files anyway; the store's rows are scrubbed
 *     before the call returns and the slot becomes free. CKR_SESSION_EXISTS while this
 *     application has a session open on the token (close them first),
 *     CKR_SLOT_ID_INVALID, CKR_TOKEN_NOT_RECOGNIZED (a free slot).
 */
#ifndef STRONGROOM_VENDOR_H
#define STRONGROOM_VENDOR_H

#define SR_INTERFACE_NAME "strongroom"
#define SR_INTERFACE_MAJOR 1
#define SR_INTERFACE_MINOR 0

/* The text between the cdef markers is also strongroom's cffi declaration (no
 * preprocessor lines there). */
/* ---- cdef begin ---- */
typedef struct SR_TOKEN_USAGE {
    CK_ULONG ulObjects;          /* objects stored on the token */
    CK_ULONG ulBytesUsed;        /* bytes their records use in the store */
    CK_ULONG ulQuotaObjects;     /* most objects a token may hold */
    CK_ULONG ulQuotaBytes;       /* most bytes a token may use */
    CK_ULONG ulUserPinFailures;  /* failed user logins in a row */
    CK_ULONG ulSoPinFailures;    /* failed SO logins in a row */
    CK_ULONG ulPinMaxTries;      /* failures that lock a PIN */
} SR_TOKEN_USAGE;
typedef SR_TOKEN_USAGE *SR_TOKEN_USAGE_PTR;

typedef struct SR_FUNCTION_LIST {
    CK_VERSION version;          /* {1, 0} */
    CK_RV (*SR_GetTokenUsage)(CK_SLOT_ID slotID, SR_TOKEN_USAGE *pUsage);
    CK_RV (*SR_DeleteToken)(CK_SLOT_ID slotID);
} SR_FUNCTION_LIST;
typedef SR_FUNCTION_LIST *SR_FUNCTION_LIST_PTR;
/* ---- cdef end ---- */

CK_RV SR_GetTokenUsage(CK_SLOT_ID slotID, SR_TOKEN_USAGE *pUsage);
CK_RV SR_DeleteToken(CK_SLOT_ID slotID);

#endif /* STRONGROOM_VENDOR_H */
