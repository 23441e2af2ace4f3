"""libstrongroom-client.so through real clients against a real token service: pkcs11-tool,
python-pkcs11, OpenSSL and ctypes (fork, restarts, the service absent, interfaces)."""
from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from capi import (
    CK_ULONG,
    CKR_BUFFER_TOO_SMALL,
    CKR_CRYPTOKI_ALREADY_INITIALIZED,
    CKR_CRYPTOKI_NOT_INITIALIZED,
    CKR_DEVICE_REMOVED,
    CKR_FUNCTION_NOT_PARALLEL,
    CKR_OK,
    CKR_SESSION_HANDLE_INVALID,
    Client,
    Interface,
)
from service_support import Service

from strongroom.modules import module_path
from support import SO_PIN, USER_PIN

HERE = Path(__file__).resolve().parent


def _env(svc: Service, **extra: str) -> dict[str, str]:
    return dict(svc.env, STRONGROOM_SERVICE=f"unix:{svc.socket}", **extra)


def _tool(module: str, env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["pkcs11-tool", "--module", module, *args], env=env, capture_output=True, text=True,
                          timeout=120)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _init_token(client: str, svc: Service, label: str = "ct") -> None:
    env = _env(svc)
    _tool(client, env, "--init-token", "--slot-index", "0", "--label", label, "--so-pin", SO_PIN)
    _tool(client, env, "--token-label", label, "--login", "--login-type", "so", "--so-pin", SO_PIN,
          "--init-pin", "--pin", USER_PIN)


def _ctypes_script(client: str, env: dict[str, str], body: str, timeout: float = 60) -> dict[str, object]:
    """Run ``body`` in a fresh interpreter with ``c`` a capi.Client; it prints one JSON line."""
    code = (f"import json, os, sys\nsys.path.insert(0, {str(HERE)!r})\nfrom capi import *\n"
            f"c = Client({client!r})\n" + textwrap.dedent(body))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["stderr"] = proc.stderr
    return out


# --- the module itself ------------------------------------------------------------------
def test_links_only_libc_and_exports_only_c_functions(client: str) -> None:
    dyn = subprocess.run(["readelf", "-d", client], capture_output=True, text=True, check=True).stdout
    needed = [line.split("[", 1)[1].rstrip("]") for line in dyn.splitlines() if "(NEEDED)" in line]
    assert needed == ["libc.so.6"]
    syms = subprocess.run(["nm", "-D", "--defined-only", client], capture_output=True, text=True, check=True).stdout
    names = [line.split()[-1] for line in syms.splitlines() if line.strip()]
    assert names and all(n.startswith("C_") for n in names), names
    assert {"C_GetFunctionList", "C_GetInterfaceList", "C_GetInterface", "C_EncapsulateKey"} <= set(names)


def test_interface_list_and_fixed_answers(client: str) -> None:
    c = Client(client)
    n = CK_ULONG(0)
    assert c.lib.C_GetInterfaceList(None, ctypes.byref(n)) == CKR_OK
    small = CK_ULONG(1)
    arr = (Interface * n.value)()
    assert c.lib.C_GetInterfaceList(arr, ctypes.byref(small)) == CKR_BUFFER_TOO_SMALL
    assert small.value == n.value
    assert c.lib.C_GetInterfaceList(arr, ctypes.byref(n)) == CKR_OK
    seen = [(i.name.decode(), i.functions.contents.major, i.functions.contents.minor) for i in arr]
    assert seen == [("PKCS 11", 3, 0), ("PKCS 11", 3, 2), ("PKCS 11", 2, 40), ("strongroom", 1, 0)]
    default = ctypes.POINTER(Interface)()
    assert c.lib.C_GetInterface(None, None, ctypes.byref(default), CK_ULONG(0)) == CKR_OK
    assert (default.contents.functions.contents.major, default.contents.functions.contents.minor) == (3, 0)
    assert c.lib.C_GetFunctionStatus(1) == CKR_FUNCTION_NOT_PARALLEL
    rv, _ = c.open_session(0)
    assert rv == CKR_CRYPTOKI_NOT_INITIALIZED          # nothing before C_Initialize


# --- pkcs11-tool ------------------------------------------------------------------------
def test_pkcs11_tool_init_list_login_random(client: str, service: Service) -> None:
    env = _env(service)
    info = _tool(client, env, "-I").stdout
    assert "Cryptoki version 3.0" in info and "strongroom" in info
    assert "(free)" in _tool(client, env, "-L").stdout
    _init_token(client, service)
    listing = _tool(client, env, "-L").stdout
    assert "token label        : ct" in listing and "PIN initialized" in listing
    out = subprocess.run(["pkcs11-tool", "--module", client, "--token-label", "ct", "--login", "--pin", USER_PIN,
                          "--generate-random", "64"], env=env, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout) == 64 and out.stdout != bytes(64)
    wrong = _tool(client, env, "--token-label", "ct", "--login", "--pin", "wrong-pin-0", "--generate-random", "8",
                  check=False)
    assert wrong.returncode != 0 and "CKR_PIN_INCORRECT" in wrong.stdout + wrong.stderr


def test_mechanism_list_matches_the_in_process_module(client: str, service: Service) -> None:
    _init_token(client, service)
    through = _tool(client, _env(service), "--token-label", "ct", "-M").stdout
    local = _tool(str(module_path()), dict(service.env), "--token-label", "ct", "-M").stdout
    mechs = [line for line in through.splitlines() if line.startswith("  ")]
    assert len(mechs) > 20
    assert mechs == [line for line in local.splitlines() if line.startswith("  ")]


def test_ec_and_rsa_keys_sign_and_openssl_verifies(client: str, service: Service, tmp_path: Path) -> None:
    _init_token(client, service)
    env = _env(service)
    login = ("--token-label", "ct", "--login", "--pin", USER_PIN)
    data = tmp_path / "data.txt"
    data.write_text("signed through the client module\n")
    for key_type, kid, mech in (("EC:prime256v1", "01", "ECDSA-SHA256"), ("rsa:2048", "02", "SHA256-RSA-PKCS-PSS")):
        _tool(client, env, *login, "--keypairgen", "--key-type", key_type, "--id", kid, "--label", f"k{kid}")
        sig = tmp_path / f"sig{kid}"
        fmt = ("--signature-format", "openssl") if kid == "01" else ()
        _tool(client, env, *login, "--sign", "-m", mech, "--id", kid, "-i", str(data), "-o", str(sig), *fmt)
        ver = _tool(client, env, *login, "--verify", "-m", mech, "--id", kid, "-i", str(data),
                    "--signature-file", str(sig), *fmt)
        assert "Signature is valid" in ver.stdout
        pub = tmp_path / f"pub{kid}.der"
        _tool(client, env, "--token-label", "ct", "--read-object", "--type", "pubkey", "--id", kid, "-o", str(pub))
        pem = tmp_path / f"pub{kid}.pem"
        subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", str(pub), "-out", str(pem)], check=True)
        extra = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"] if kid == "02" else []
        ok = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(pem), *extra, "-signature", str(sig),
                             str(data)], capture_output=True, text=True)
        assert ok.returncode == 0 and "Verified OK" in ok.stdout, ok.stdout + ok.stderr
        data.write_text("another text\n")
        bad = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(pem), *extra, "-signature", str(sig),
                              str(data)], capture_output=True, text=True)
        assert bad.returncode != 0
        data.write_text("signed through the client module\n")


def test_service_found_through_the_client_config_file(client: str, service: Service, tmp_path: Path) -> None:
    conf = tmp_path / "xdg" / "strongroom"
    conf.mkdir(parents=True)
    (conf / "client.conf").write_text(f"# strongroom client\nservice = unix:{service.socket}\n")
    env = dict(service.env, XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    env.pop("STRONGROOM_SERVICE", None)
    assert "strongroom slot 0" in _tool(client, env, "-L").stdout


# --- python-pkcs11 ----------------------------------------------------------------------
def test_python_pkcs11_opens_the_token(client: str, service: Service) -> None:
    _init_token(client, service)
    body = f"""
    import pkcs11
    from pkcs11 import KeyType, Mechanism
    lib = pkcs11.lib({client!r})
    token = lib.get_token(token_label="ct")
    with token.open(user_pin={USER_PIN!r}, rw=True) as s:
        rnd = s.generate_random(256)            # bits
        params = s.create_domain_parameters(KeyType.EC, {{pkcs11.Attribute.EC_PARAMS:
            bytes.fromhex("06082a8648ce3d030107")}}, local=True)
        pub, priv = params.generate_keypair(store=True, label="pk")
        sig = priv.sign(b"data", mechanism=Mechanism.ECDSA_SHA256)
        ok = pub.verify(b"data", sig, mechanism=Mechanism.ECDSA_SHA256)
        bad = pub.verify(b"other", sig, mechanism=Mechanism.ECDSA_SHA256)
        label = priv[pkcs11.Attribute.LABEL]
        point = pub[pkcs11.Attribute.EC_POINT]
    print(json.dumps({{"label": token.label, "rnd": len(rnd), "ok": ok, "bad": bad, "klabel": label,
                       "point": len(point)}}))
    """
    out = _ctypes_script(client, _env(service), body)
    assert out["label"] == "ct" and out["rnd"] == 32
    assert out["ok"] is True and out["bad"] is False
    assert out["klabel"] == "pk" and out["point"] in (65, 67)


# --- fork, restarts, absence ------------------------------------------------------------
def test_forked_child_must_initialise_again_parent_goes_on(client: str, service: Service) -> None:
    _init_token(client, service)
    body = """
    assert c.initialize() == 0
    rv, h = c.open_session(0)
    assert rv == 0
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        res = {"child_random": c.random(h)[0], "child_slots": c.slots()[0]}
        res["child_init"] = c.initialize()
        rv2, h2 = c.open_session(0)
        res["child_open"] = rv2
        res["child_random2"] = c.random(h2)[0]
        res["child_old_handle"] = c.random(h)[0]
        os.write(w, json.dumps(res).encode())
        os._exit(0)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    child = json.loads(os.read(r, 4096))
    child["status"] = status
    child["parent_random"] = c.random(h)[0]
    child["parent_again"] = c.initialize()
    print(json.dumps(child))
    """
    out = _ctypes_script(client, _env(service), body)
    assert out["status"] == 0
    assert out["child_random"] == CKR_CRYPTOKI_NOT_INITIALIZED
    assert out["child_slots"] == CKR_CRYPTOKI_NOT_INITIALIZED
    assert out["child_init"] == CKR_OK and out["child_open"] == CKR_OK and out["child_random2"] == CKR_OK
    assert out["child_old_handle"] == CKR_SESSION_HANDLE_INVALID
    assert out["parent_random"] == CKR_OK
    assert out["parent_again"] == CKR_CRYPTOKI_ALREADY_INITIALIZED


def test_service_restart_old_sessions_invalid_new_ones_work(client: str, service: Service) -> None:
    _init_token(client, service)
    c = Client(client)
    os.environ["STRONGROOM_SERVICE"] = f"unix:{service.socket}"
    try:
        assert c.initialize() == CKR_OK
        rv, old = c.open_session(0)
        assert rv == CKR_OK and c.random(old)[0] == CKR_OK
        service.stop()
        assert c.random(old)[0] == CKR_DEVICE_REMOVED
        assert c.slots() == (CKR_OK, [])                 # no service: no slots
        again = Service(service.home, service.socket)
        try:
            rv, new = c.open_session(0)                  # reconnects by itself
            assert rv == CKR_OK and new != old
            assert c.random(new)[0] == CKR_OK
            assert c.random(old)[0] == CKR_SESSION_HANDLE_INVALID
            assert c.close_session(old) == CKR_SESSION_HANDLE_INVALID
            assert c.close_session(new) == CKR_OK
        finally:
            again.stop()
    finally:
        c.finalize()
        del os.environ["STRONGROOM_SERVICE"]


def test_service_absent_initialize_returns_with_no_slots(client: str, tmp_path: Path) -> None:
    env = dict(os.environ, STRONGROOM_SERVICE=f"unix:{tmp_path}/nobody.sock")
    body = """
    rv = c.initialize()
    print(json.dumps({"init": rv, "slots": c.slots(), "open": c.open_session(0)[0], "fin": c.finalize()}))
    """
    out = _ctypes_script(client, env, body, timeout=30)
    assert out["init"] == CKR_OK and out["slots"] == [CKR_OK, []]
    assert out["open"] == 0x3 and out["fin"] == CKR_OK             # CKR_SLOT_ID_INVALID
    assert f"unix:{tmp_path}/nobody.sock" in str(out["stderr"]) and "strongroom serve" in str(out["stderr"])
    quiet = _ctypes_script(client, dict(env, STRONGROOM_CLIENT_QUIET="1"), body, timeout=30)
    assert quiet["init"] == CKR_OK and quiet["stderr"] == ""


def test_listener_that_never_answers_does_not_hang(client: str, tmp_path: Path) -> None:
    import socket

    path = tmp_path / "silent.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)
    try:
        env = dict(os.environ, STRONGROOM_SERVICE=f"unix:{path}", STRONGROOM_CLIENT_TIMEOUT="0.5")
        out = _ctypes_script(client, env, 'print(json.dumps({"init": c.initialize(), "slots": c.slots()}))',
                             timeout=20)
        assert out["init"] == CKR_OK and out["slots"] == [CKR_OK, []]
    finally:
        srv.close()


def test_two_call_convention_on_lists_and_token_info(client: str, service: Service) -> None:
    _init_token(client, service)
    body = """
    import ctypes
    assert c.initialize() == 0
    n = CK_ULONG(0)
    r1 = c.lib.C_GetMechanismList(0, None, ctypes.byref(n))
    total = n.value
    small = CK_ULONG(2)
    buf = (CK_ULONG * total)()
    r2 = c.lib.C_GetMechanismList(0, buf, ctypes.byref(small))
    full = CK_ULONG(total)
    r3 = c.lib.C_GetMechanismList(0, buf, ctypes.byref(full))
    info = TokenInfo()
    r4 = c.lib.C_GetTokenInfo(0, ctypes.byref(info))
    print(json.dumps({"r": [r1, r2, r3, r4], "total": total, "small": small.value, "full": full.value,
                      "label": info.label.decode().rstrip(), "mechs": list(buf)[:3]}))
    """
    out = _ctypes_script(client, _env(service), body)
    assert out["r"] == [CKR_OK, CKR_BUFFER_TOO_SMALL, CKR_OK, CKR_OK]
    assert isinstance(out["total"], int) and out["total"] > 20
    assert out["small"] == out["total"] == out["full"]
    assert out["label"] == "ct" and out["mechs"][0] == 0     # CKM_RSA_PKCS_KEY_PAIR_GEN first


def test_get_attribute_value_two_call_convention(client: str, service: Service) -> None:
    _init_token(client, service)
    body = f"""
    import ctypes
    from ctypes import byref, c_void_p
    class Attr(ctypes.Structure):
        _fields_ = [("type", CK_ULONG), ("pValue", c_void_p), ("ulValueLen", CK_ULONG)]
    L = c.lib
    L.C_Login.argtypes = [CK_ULONG, CK_ULONG, ctypes.c_char_p, CK_ULONG]
    L.C_CreateObject.argtypes = [CK_ULONG, ctypes.POINTER(Attr), CK_ULONG, ctypes.POINTER(CK_ULONG)]
    L.C_CreateObject.restype = CK_ULONG
    L.C_GetAttributeValue.argtypes = [CK_ULONG, CK_ULONG, ctypes.POINTER(Attr), CK_ULONG]
    L.C_GetAttributeValue.restype = CK_ULONG
    assert c.initialize() == 0
    rv, h = c.open_session(0)
    pin = {USER_PIN!r}.encode()
    assert L.C_Login(h, 1, pin, len(pin)) == 0
    cls, false, label, value = CK_ULONG(0), ctypes.c_ubyte(0), b"my-label", b"secret value bytes"
    lb, vb = ctypes.create_string_buffer(label), ctypes.create_string_buffer(value)
    t = (Attr * 4)(Attr(0x0, ctypes.cast(byref(cls), c_void_p), 8), Attr(0x1, ctypes.cast(byref(false), c_void_p), 1),
                   Attr(0x3, ctypes.cast(lb, c_void_p), len(label)), Attr(0x11, ctypes.cast(vb, c_void_p), len(value)))
    obj = CK_ULONG(0)
    res = {{"create": L.C_CreateObject(h, t, 4, byref(obj))}}
    q = (Attr * 3)(Attr(0x3, None, 0), Attr(0x0, None, 0), Attr(0x7777, None, 0))
    res["query"] = L.C_GetAttributeValue(h, obj.value, q, 3)
    res["query_lens"] = [a.ulValueLen for a in q]
    small = ctypes.create_string_buffer(2)
    s = (Attr * 1)(Attr(0x3, ctypes.cast(small, c_void_p), 2))
    res["small"] = L.C_GetAttributeValue(h, obj.value, s, 1)
    res["small_len"] = s[0].ulValueLen
    big = ctypes.create_string_buffer(64)
    k = CK_ULONG(99)
    f = (Attr * 2)(Attr(0x3, ctypes.cast(big, c_void_p), 64), Attr(0x0, ctypes.cast(byref(k), c_void_p), 8))
    res["full"] = L.C_GetAttributeValue(h, obj.value, f, 2)
    res["full_len"] = f[0].ulValueLen
    res["label"] = big.raw[: f[0].ulValueLen].decode()
    res["class"] = k.value
    print(json.dumps(res))
    """
    out = _ctypes_script(client, _env(service), body)
    assert out["create"] == CKR_OK
    assert out["query"] == 0x12                                   # CKR_ATTRIBUTE_TYPE_INVALID
    assert out["query_lens"] == [8, 8, 2**64 - 1]                  # len("my-label"), a CK_ULONG, unavailable
    assert out["small"] == CKR_BUFFER_TOO_SMALL and out["small_len"] == 2**64 - 1
    assert out["full"] == CKR_OK and out["full_len"] == 8 and out["label"] == "my-label" and out["class"] == 0


def test_vendor_interface_reaches_the_extension_ids(client: str, service: Service) -> None:
    _init_token(client, service)
    body = """
    import ctypes
    class Usage(ctypes.Structure):
        _fields_ = [(n, CK_ULONG) for n in ("objects", "bytes", "qo", "qb", "user_fail", "so_fail", "max_tries")]
    class VendorList(ctypes.Structure):
        _fields_ = [("version", Version),
                    ("GetTokenUsage", ctypes.CFUNCTYPE(CK_ULONG, CK_ULONG, ctypes.POINTER(Usage))),
                    ("DeleteToken", ctypes.CFUNCTYPE(CK_ULONG, CK_ULONG))]
    assert c.initialize() == 0
    it = ctypes.POINTER(Interface)()
    rv = c.lib.C_GetInterface(b"strongroom", None, ctypes.byref(it), CK_ULONG(0))
    vl = ctypes.cast(it.contents.functions, ctypes.POINTER(VendorList)).contents
    u = Usage()
    print(json.dumps({"rv": rv, "usage": vl.GetTokenUsage(0, ctypes.byref(u)), "tries": u.max_tries,
                      "free_slot": vl.GetTokenUsage(1, ctypes.byref(u))}))
    """
    out = _ctypes_script(client, _env(service), body)
    assert out["rv"] == CKR_OK and out["usage"] == CKR_OK       # SR_GetTokenUsage: level 1 only
    assert isinstance(out["tries"], int) and out["tries"] > 0
    assert out["free_slot"] == 0xE1                              # CKR_TOKEN_NOT_RECOGNIZED
