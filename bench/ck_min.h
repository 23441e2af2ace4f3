/* The few Cryptoki (PKCS#11 v2.40) types and constants the bench client uses, written out
 * by hand from the specification (no vendor header is copied or needed). Linux/x86-64
 * layout: CK_ULONG is unsigned long, structs have natural alignment (no packing). */
#ifndef BENCH_CK_MIN_H
#define BENCH_CK_MIN_H

typedef unsigned long CK_ULONG;
typedef unsigned char CK_BYTE;
typedef CK_ULONG CK_RV;
typedef CK_ULONG CK_SLOT_ID;
typedef CK_ULONG CK_SESSION_HANDLE;
typedef CK_ULONG CK_OBJECT_HANDLE;
typedef CK_ULONG CK_FLAGS;

typedef struct { CK_BYTE major, minor; } CK_VERSION;

typedef struct {
    CK_VERSION cryptokiVersion;
    CK_BYTE manufacturerID[32];
    CK_FLAGS flags;
    CK_BYTE libraryDescription[32];
    CK_VERSION libraryVersion;
} CK_INFO;

typedef struct {
    CK_BYTE label[32];
    CK_BYTE manufacturerID[32];
    CK_BYTE model[16];
    CK_BYTE serialNumber[16];
    CK_FLAGS flags;
    CK_ULONG ulMaxSessionCount, ulSessionCount, ulMaxRwSessionCount, ulRwSessionCount;
    CK_ULONG ulMaxPinLen, ulMinPinLen;
    CK_ULONG ulTotalPublicMemory, ulFreePublicMemory, ulTotalPrivateMemory, ulFreePrivateMemory;
    CK_VERSION hardwareVersion, firmwareVersion;
    CK_BYTE utcTime[16];
} CK_TOKEN_INFO;

typedef struct { CK_ULONG mechanism; void *pParameter; CK_ULONG ulParameterLen; } CK_MECHANISM;
typedef struct { CK_ULONG type; void *pValue; CK_ULONG ulValueLen; } CK_ATTRIBUTE;
typedef struct { CK_ULONG hashAlg, mgf, sLen; } CK_RSA_PKCS_PSS_PARAMS;
typedef struct {
    CK_ULONG hashAlg, mgf, source;
    void *pSourceData;
    CK_ULONG ulSourceDataLen;
} CK_RSA_PKCS_OAEP_PARAMS;
/* v2.40 header layout (with ulIvBits), the one both SoftHSM2 2.6 and strongroom take */
typedef struct {
    CK_BYTE *pIv;
    CK_ULONG ulIvLen, ulIvBits;
    CK_BYTE *pAAD;
    CK_ULONG ulAADLen, ulTagBits;
} CK_GCM_PARAMS;
typedef struct {
    void *CreateMutex, *DestroyMutex, *LockMutex, *UnlockMutex;
    CK_FLAGS flags;
    void *pReserved;
} CK_C_INITIALIZE_ARGS;

typedef CK_RV (*CK_NOTIFY)(CK_SESSION_HANDLE, CK_ULONG, void *);

/* CK_FUNCTION_LIST (v2.40): every entry in order; unused ones are plain pointers. */
typedef struct {
    CK_VERSION version;
    CK_RV (*C_Initialize)(void *);
    CK_RV (*C_Finalize)(void *);
    CK_RV (*C_GetInfo)(CK_INFO *);
    void *C_GetFunctionList;
    CK_RV (*C_GetSlotList)(CK_BYTE, CK_SLOT_ID *, CK_ULONG *);
    void *C_GetSlotInfo;
    CK_RV (*C_GetTokenInfo)(CK_SLOT_ID, CK_TOKEN_INFO *);
    CK_RV (*C_GetMechanismList)(CK_SLOT_ID, CK_ULONG *, CK_ULONG *);
    void *C_GetMechanismInfo;
    CK_RV (*C_InitToken)(CK_SLOT_ID, CK_BYTE *, CK_ULONG, CK_BYTE *);
    CK_RV (*C_InitPIN)(CK_SESSION_HANDLE, CK_BYTE *, CK_ULONG);
    void *C_SetPIN;
    CK_RV (*C_OpenSession)(CK_SLOT_ID, CK_FLAGS, void *, CK_NOTIFY, CK_SESSION_HANDLE *);
    CK_RV (*C_CloseSession)(CK_SESSION_HANDLE);
    void *C_CloseAllSessions;
    void *C_GetSessionInfo;
    void *C_GetOperationState;
    void *C_SetOperationState;
    CK_RV (*C_Login)(CK_SESSION_HANDLE, CK_ULONG, CK_BYTE *, CK_ULONG);
    CK_RV (*C_Logout)(CK_SESSION_HANDLE);
    CK_RV (*C_CreateObject)(CK_SESSION_HANDLE, CK_ATTRIBUTE *, CK_ULONG, CK_OBJECT_HANDLE *);
    void *C_CopyObject;
    CK_RV (*C_DestroyObject)(CK_SESSION_HANDLE, CK_OBJECT_HANDLE);
    void *C_GetObjectSize;
    void *C_GetAttributeValue;
    void *C_SetAttributeValue;
    CK_RV (*C_FindObjectsInit)(CK_SESSION_HANDLE, CK_ATTRIBUTE *, CK_ULONG);
    CK_RV (*C_FindObjects)(CK_SESSION_HANDLE, CK_OBJECT_HANDLE *, CK_ULONG, CK_ULONG *);
    CK_RV (*C_FindObjectsFinal)(CK_SESSION_HANDLE);
    CK_RV (*C_EncryptInit)(CK_SESSION_HANDLE, CK_MECHANISM *, CK_OBJECT_HANDLE);
    CK_RV (*C_Encrypt)(CK_SESSION_HANDLE, CK_BYTE *, CK_ULONG, CK_BYTE *, CK_ULONG *);
    void *C_EncryptUpdate;
    void *C_EncryptFinal;
    CK_RV (*C_DecryptInit)(CK_SESSION_HANDLE, CK_MECHANISM *, CK_OBJECT_HANDLE);
    CK_RV (*C_Decrypt)(CK_SESSION_HANDLE, CK_BYTE *, CK_ULONG, CK_BYTE *, CK_ULONG *);
    void *C_DecryptUpdate;
    void *C_DecryptFinal;
    CK_RV (*C_DigestInit)(CK_SESSION_HANDLE, CK_MECHANISM *);
    CK_RV (*C_Digest)(CK_SESSION_HANDLE, CK_BYTE *, CK_ULONG, CK_BYTE *, CK_ULONG *);
    void *C_DigestUpdate;
    void *C_DigestKey;
    void *C_DigestFinal;
    CK_RV (*C_SignInit)(CK_SESSION_HANDLE, CK_MECHANISM *, CK_OBJECT_HANDLE);
    CK_RV (*C_Sign)(CK_SESSION_HANDLE, CK_BYTE *, CK_ULONG, CK_BYTE *, CK_ULONG *);
    void *C_SignUpdate;
    void *C_SignFinal;
    void *C_SignRecoverInit;
    void *C_SignRecover;
    CK_RV (*C_VerifyInit)(CK_SESSION_HANDLE, CK_MECHANISM *, CK_OBJECT_HANDLE);
    CK_RV (*C_Verify)(CK_SESSION_HANDLE, CK_BYTE *, CK_ULONG, CK_BYTE *, CK_ULONG);
    void *C_VerifyUpdate;
    void *C_VerifyFinal;
    void *C_VerifyRecoverInit;
    void *C_VerifyRecover;
    void *C_DigestEncryptUpdate;
    void *C_DecryptDigestUpdate;
    void *C_SignEncryptUpdate;
    void *C_DecryptVerifyUpdate;
    CK_RV (*C_GenerateKey)(CK_SESSION_HANDLE, CK_MECHANISM *, CK_ATTRIBUTE *, CK_ULONG, CK_OBJECT_HANDLE *);
    CK_RV (*C_GenerateKeyPair)(CK_SESSION_HANDLE, CK_MECHANISM *, CK_ATTRIBUTE *, CK_ULONG,
                               CK_ATTRIBUTE *, CK_ULONG, CK_OBJECT_HANDLE *, CK_OBJECT_HANDLE *);
    void *C_WrapKey;
    void *C_UnwrapKey;
    void *C_DeriveKey;
    void *C_SeedRandom;
    CK_RV (*C_GenerateRandom)(CK_SESSION_HANDLE, CK_BYTE *, CK_ULONG);
    void *C_GetFunctionStatus;
    void *C_CancelFunction;
    void *C_WaitForSlotEvent;
} CK_FUNCTION_LIST;

#define CKR_OK                         0x000UL
#define CKR_ARGUMENTS_BAD              0x007UL
#define CKR_ATTRIBUTE_VALUE_INVALID    0x013UL
#define CKR_FUNCTION_NOT_SUPPORTED     0x054UL
#define CKR_KEY_TYPE_INCONSISTENT      0x063UL
#define CKR_MECHANISM_INVALID          0x070UL
#define CKR_MECHANISM_PARAM_INVALID    0x071UL
#define CKR_TEMPLATE_INCONSISTENT      0x0D1UL
#define CKR_USER_ALREADY_LOGGED_IN     0x100UL
#define CKR_DOMAIN_PARAMS_INVALID      0x130UL
#define CKR_CURVE_NOT_SUPPORTED        0x140UL
#define CKR_CRYPTOKI_ALREADY_INITIALIZED 0x191UL

#define CKF_TOKEN_INITIALIZED 0x400UL
#define CKF_RW_SESSION        0x002UL
#define CKF_SERIAL_SESSION    0x004UL
#define CKF_OS_LOCKING_OK     0x002UL
#define CKU_SO   0UL
#define CKU_USER 1UL

#define CKO_DATA        0UL
#define CKO_PUBLIC_KEY  2UL
#define CKO_PRIVATE_KEY 3UL
#define CKO_SECRET_KEY  4UL
#define CKK_RSA            0x00UL
#define CKK_EC             0x03UL
#define CKK_GENERIC_SECRET 0x10UL
#define CKK_AES            0x1FUL
#define CKK_EC_EDWARDS     0x40UL

#define CKA_CLASS           0x000UL
#define CKA_TOKEN           0x001UL
#define CKA_PRIVATE         0x002UL
#define CKA_LABEL           0x003UL
#define CKA_VALUE           0x011UL
#define CKA_KEY_TYPE        0x100UL
#define CKA_SENSITIVE       0x103UL
#define CKA_ENCRYPT         0x104UL
#define CKA_DECRYPT         0x105UL
#define CKA_SIGN            0x108UL
#define CKA_VERIFY          0x10AUL
#define CKA_MODULUS_BITS    0x121UL
#define CKA_PUBLIC_EXPONENT 0x122UL
#define CKA_VALUE_LEN       0x161UL
#define CKA_EC_PARAMS       0x180UL

#define CKM_RSA_PKCS_KEY_PAIR_GEN   0x0000UL
#define CKM_RSA_PKCS_OAEP           0x0009UL
#define CKM_SHA256_RSA_PKCS         0x0040UL
#define CKM_SHA256_RSA_PKCS_PSS     0x0043UL
#define CKM_SHA_1                   0x0220UL
#define CKM_SHA256                  0x0250UL
#define CKM_SHA256_HMAC             0x0251UL
#define CKM_GENERIC_SECRET_KEY_GEN  0x0350UL
#define CKM_EC_KEY_PAIR_GEN         0x1040UL
#define CKM_ECDSA                   0x1041UL
#define CKM_EC_EDWARDS_KEY_PAIR_GEN 0x1055UL
#define CKM_EDDSA                   0x1057UL
#define CKM_AES_KEY_GEN             0x1080UL
#define CKM_AES_GCM                 0x1087UL

#define CKG_MGF1_SHA1   1UL
#define CKG_MGF1_SHA256 2UL
#define CKZ_DATA_SPECIFIED 1UL

#endif
