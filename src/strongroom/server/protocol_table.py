"""Every call of the service's protocol: id, name, request and response signatures.

Pure data, read by the service's call table (server/calls.py) and, at build time, by the
C client's generator (client/gen_tables.py), so both ends frame a call from the same row.

Ids 1-89 and their signatures are p11-kit's RPC protocol (p11-kit/rpc-message.h, the same
in 0.24 for 1-65; 66-89 since 0.25; docs/protocol.md). Ids from 128 are strongroom's
extensions: a peer may send them only on a connection that negotiated extension level 1
(the version byte 0x81, docs/protocol.md "Extensions"); elsewhere they break the protocol.
"""
from __future__ import annotations

__all__ = ["EXTENSION_BASE", "MAX_P11KIT_CALL", "PROTOCOL"]

#: (id, name, request signature, response signature)
PROTOCOL: tuple[tuple[int, str, str, str], ...] = (
    (1, "C_Initialize", "ayyay", ""),
    (2, "C_Finalize", "", ""),
    (3, "C_GetInfo", "", "vsusv"),
    (4, "C_GetSlotList", "yfu", "au"),
    (5, "C_GetSlotInfo", "u", "ssuvv"),
    (6, "C_GetTokenInfo", "u", "ssssuuuuuuuuuuuvvs"),
    (7, "C_GetMechanismList", "ufu", "au"),
    (8, "C_GetMechanismInfo", "uu", "uuu"),
    (9, "C_InitToken", "uayz", ""),
    (10, "C_OpenSession", "uu", "u"),
    (11, "C_CloseSession", "u", ""),
    (12, "C_CloseAllSessions", "u", ""),
    (13, "C_GetSessionInfo", "u", "uuuu"),
    (14, "C_InitPIN", "uay", ""),
    (15, "C_SetPIN", "uayay", ""),
    (16, "C_GetOperationState", "ufy", "ay"),
    (17, "C_SetOperationState", "uayuu", ""),
    (18, "C_Login", "uuay", ""),
    (19, "C_Logout", "u", ""),
    (20, "C_CreateObject", "uaA", "u"),
    (21, "C_CopyObject", "uuaA", "u"),
    (22, "C_DestroyObject", "uu", ""),
    (23, "C_GetObjectSize", "uu", "u"),
    (24, "C_GetAttributeValue", "uufA", "aAu"),
    (25, "C_SetAttributeValue", "uuaA", ""),
    (26, "C_FindObjectsInit", "uaA", ""),
    (27, "C_FindObjects", "ufu", "au"),
    (28, "C_FindObjectsFinal", "u", ""),
    (29, "C_EncryptInit", "uMu", ""),
    (30, "C_Encrypt", "uayfy", "ay"),
    (31, "C_EncryptUpdate", "uayfy", "ay"),
    (32, "C_EncryptFinal", "ufy", "ay"),
    (33, "C_DecryptInit", "uMu", ""),
    (34, "C_Decrypt", "uayfy", "ay"),
    (35, "C_DecryptUpdate", "uayfy", "ay"),
    (36, "C_DecryptFinal", "ufy", "ay"),
    (37, "C_DigestInit", "uM", ""),
    (38, "C_Digest", "uayfy", "ay"),
    (39, "C_DigestUpdate", "uay", ""),
    (40, "C_DigestKey", "uu", ""),
    (41, "C_DigestFinal", "ufy", "ay"),
    (42, "C_SignInit", "uMu", ""),
    (43, "C_Sign", "uayfy", "ay"),
    (44, "C_SignUpdate", "uay", ""),
    (45, "C_SignFinal", "ufy", "ay"),
    (46, "C_SignRecoverInit", "uMu", ""),
    (47, "C_SignRecover", "uayfy", "ay"),
    (48, "C_VerifyInit", "uMu", ""),
    (49, "C_Verify", "uayay", ""),
    (50, "C_VerifyUpdate", "uay", ""),
    (51, "C_VerifyFinal", "uay", ""),
    (52, "C_VerifyRecoverInit", "uMu", ""),
    (53, "C_VerifyRecover", "uayfy", "ay"),
    (54, "C_DigestEncryptUpdate", "uayfy", "ay"),
    (55, "C_DecryptDigestUpdate", "uayfy", "ay"),
    (56, "C_SignEncryptUpdate", "uayfy", "ay"),
    (57, "C_DecryptVerifyUpdate", "uayfy", "ay"),
    (58, "C_GenerateKey", "uMaA", "u"),
    (59, "C_GenerateKeyPair", "uMaAaA", "uu"),
    (60, "C_WrapKey", "uMuufy", "ay"),
    (61, "C_UnwrapKey", "uMuayaA", "u"),
    (62, "C_DeriveKey", "uMuaA", "u"),
    (63, "C_SeedRandom", "uay", ""),
    (64, "C_GenerateRandom", "ufy", "ay"),
    (65, "C_WaitForSlotEvent", "u", "u"),
    (66, "C_LoginUser", "uuayay", ""),
    (67, "C_SessionCancel", "uu", ""),
    (68, "C_MessageEncryptInit", "uMu", ""),
    (69, "C_EncryptMessage", "uayayayfy", "ay"),
    (70, "C_EncryptMessageBegin", "uayay", ""),
    (71, "C_EncryptMessageNext", "uayayfyu", "ay"),
    (72, "C_MessageEncryptFinal", "u", ""),
    (73, "C_MessageDecryptInit", "uMu", ""),
    (74, "C_DecryptMessage", "uayayayfy", "ay"),
    (75, "C_DecryptMessageBegin", "uayay", ""),
    (76, "C_DecryptMessageNext", "uayayfyu", "ay"),
    (77, "C_MessageDecryptFinal", "u", ""),
    (78, "C_MessageSignInit", "uMu", ""),
    (79, "C_SignMessage", "uayayfy", "ay"),
    (80, "C_SignMessageBegin", "uay", ""),
    (81, "C_SignMessageNext", "uayayyfy", "ay"),
    (82, "C_MessageSignFinal", "u", ""),
    (83, "C_MessageVerifyInit", "uMu", ""),
    (84, "C_VerifyMessage", "uayayay", ""),
    (85, "C_VerifyMessageBegin", "uay", ""),
    (86, "C_VerifyMessageNext", "uayayay", ""),
    (87, "C_MessageVerifyFinal", "u", ""),
    (88, "C_InitToken2", "uays", ""),
    (89, "C_DeriveKey2", "uMuaA", "uPu"),
    # --- strongroom extensions (level 1; docs/protocol.md "Extensions") ------------------
    # PKCS#11 3.2 KEM: ciphertext out (two-call convention) and the new key's handle
    (128, "C_EncapsulateKey", "uMuaAfy", "ayu"),
    (129, "C_DecapsulateKey", "uMuaAay", "u"),
    # message-based encryption whose per-message parameter comes back (tag, generated IV):
    # the parameter travels flattened by pkcs11/param_layouts.py in an ``ay`` both ways
    (130, "SR_EncryptMessage", "uayayayfy", "ayay"),
    (131, "SR_EncryptMessageBegin", "uayay", "ay"),
    (132, "SR_EncryptMessageNext", "uayayfyu", "ayay"),
    # vendor functions (strongroom_vendor.h): SR_TOKEN_USAGE's CK_ULONG members in order
    (133, "SR_GetTokenUsage", "u", "uuuuuuu"),
    (134, "SR_DeleteToken", "u", ""),
    # the service's identity for this start (16 random bytes) and its extension level
    (135, "SR_ServiceInfo", "", "ayu"),
    # one application served by several connections (server/tickets.py): a ticket and the
    # socket to dial with it (empty: the same), and the join, as a fresh connection's first call
    (136, "SR_ApplicationTicket", "", "ayay"),
    (137, "SR_JoinApplication", "ay", ""),
)

#: The highest call id of p11-kit's table (C_DeriveKey2): a standard peer never sends more.
MAX_P11KIT_CALL = 89
#: The first strongroom extension call id.
EXTENSION_BASE = 128
