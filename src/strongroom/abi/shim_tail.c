/* strongroom C shim, second part: entry points that hand out the function lists (the
 * client module, client/interfaces.c, compiles this file as well).
 * Included after the generated wrappers and the static sr_list_240 / sr_list_30 / sr_list_32 /
 * sr_list_vendor. */

/* The first entry is the default (C_GetInterface with a NULL name or version). It stays
 * the 3.0 list: every consumer knows it, and a 3.2 consumer asks for {3, 2} by version.
 * The last is strongroom's own (strongroom_vendor.h): only asked for by its name. */
static const char sr_pkcs11_name[] = "PKCS 11";
static CK_INTERFACE sr_interfaces[4] = {
    {(CK_CHAR *)sr_pkcs11_name, (CK_VOID_PTR)&sr_list_30, 0},
    {(CK_CHAR *)sr_pkcs11_name, (CK_VOID_PTR)&sr_list_32, 0},
    {(CK_CHAR *)sr_pkcs11_name, (CK_VOID_PTR)&sr_list_240, 0},
    {(CK_CHAR *)SR_INTERFACE_NAME, (CK_VOID_PTR)&sr_list_vendor, 0},
};
#define SR_N_INTERFACES (sizeof(sr_interfaces) / sizeof(sr_interfaces[0]))

SR_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
    if (ppFunctionList == NULL)
        return CKR_ARGUMENTS_BAD;
    *ppFunctionList = &sr_list_240;
    return CKR_OK;
}

SR_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
    if (pulCount == NULL)
        return CKR_ARGUMENTS_BAD;
    if (pInterfacesList == NULL) {
        *pulCount = SR_N_INTERFACES;
        return CKR_OK;
    }
    if (*pulCount < SR_N_INTERFACES) {
        *pulCount = SR_N_INTERFACES;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(pInterfacesList, sr_interfaces, sizeof(sr_interfaces));
    *pulCount = SR_N_INTERFACES;
    return CKR_OK;
}

SR_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                               CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
    size_t i;

    if (ppInterface == NULL)
        return CKR_ARGUMENTS_BAD;
    for (i = 0; i < SR_N_INTERFACES; i++) {
        CK_INTERFACE *it = &sr_interfaces[i];
        const CK_VERSION *v = (const CK_VERSION *)it->pFunctionList;
        const char *want = pInterfaceName != NULL ? (const char *)pInterfaceName : sr_pkcs11_name;
        if (strcmp(want, (const char *)it->pInterfaceName) != 0)
            continue;
        if (pVersion != NULL && (pVersion->major != v->major || pVersion->minor != v->minor))
            continue;
        if ((flags & it->flags) != flags)
            continue;
        *ppInterface = it;
        return CKR_OK;
    }
    return CKR_ARGUMENTS_BAD;
}
