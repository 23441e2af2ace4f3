"""RFC 7512 PKCS#11 URIs: the RFC's examples, round trips, errors and matching."""
from __future__ import annotations

import pytest

from strongroom.uri import CLASS_TO_TYPE, PKCS11URI, TYPE_TO_CLASS, URIError, build, is_uri, parse

RFC_ID = bytes.fromhex("69953e5cf4bdec91")

# Every example of RFC 7512 §3.4 (the wrapped ones joined), with the attributes it carries.
RFC_EXAMPLES = [
    ("pkcs11:", {}, {}),
    ("pkcs11:object=my-pubkey;type=public",
     {"object": "my-pubkey", "type": "public"}, {}),
    ("pkcs11:object=my-key;type=private?pin-source=file:/etc/token",
     {"object": "my-key", "type": "private"}, {"pin-source": "file:/etc/token"}),
    ("pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;"
     "model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial="
     "?pin-source=file:/etc/token_pin",
     {"token": "The Software PKCS#11 Softtoken", "manufacturer": "Snake Oil, Inc.",
      "model": "1.0", "object": "my-certificate", "type": "cert", "id": RFC_ID, "serial": ""},
     {"pin-source": "file:/etc/token_pin"}),
    ("pkcs11:object=my-sign-key;type=private?module-name=mypkcs11",
     {"object": "my-sign-key", "type": "private"}, {"module-name": "mypkcs11"}),
    ("pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1",
     {"object": "my-sign-key", "type": "private"}, {"module-path": "/mnt/libmypkcs11.so.1"}),
    ("pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc."
     "?pin-value=the-pin",
     {"token": "Software PKCS#11 softtoken", "manufacturer": "Snake Oil, Inc."},
     {"pin-value": "the-pin"}),
    ("pkcs11:slot-description=Sun%20Metaslot", {"slot-description": "Sun Metaslot"}, {}),
    ("pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;"
     "library-description=Soft%20Token%20Library;library-version=1.23",
     {"library-manufacturer": "Snake Oil, Inc.", "library-description": "Soft Token Library",
      "library-version": "1.23"}, {}),
    ("pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;"
     "id=%01%02%03%Ba%dd%Ca%fe%04%05%06",
     {"token": "My token% created by Joe", "library-version": "3",
      "id": bytes.fromhex("010203baddcafe040506")}, {}),
    ("pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert",
     {"token": "A name with a substring %;", "object": "my-certificate", "type": "cert"}, {}),
    ("pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;"
     "object=my-certificate;type=cert",
     {"token": "Name with a small A with acute: \u00e1", "object": "my-certificate",
      "type": "cert"}, {}),
    ("pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a"
     "?pin-source=file:/etc/token_pin&vendor-bbb=value-b",
     {"token": "my-token", "object": "my-certificate", "type": "cert", "vendor-aaa": "value-a"},
     {"pin-source": "file:/etc/token_pin", "vendor-bbb": "value-b"}),
]


@pytest.mark.parametrize("text,path,query", RFC_EXAMPLES, ids=range(len(RFC_EXAMPLES)))
def test_rfc_examples_parse_format_reparse(text, path, query):
    uri = parse(text)
    assert uri.path == path
    assert uri.query == query
    again = parse(uri.format())
    assert again == uri
    assert again.format() == uri.format()          # format is canonical: a fixed point
    assert str(uri) == uri.format()


def test_rfc_example_conveniences():
    uri = parse(RFC_EXAMPLES[3][0])
    assert uri.token == "The Software PKCS#11 Softtoken"
    assert uri.manufacturer == "Snake Oil, Inc."
    assert uri.serial == "" and uri.model == "1.0"
    assert uri.object == "my-certificate" and uri.type == "cert" and uri.object_class == 1
    assert uri.id == RFC_ID
    assert uri.pin_source == "file:/etc/token_pin" and uri.pin_value is None
    lib = parse(RFC_EXAMPLES[8][0])
    assert (lib.library_manufacturer, lib.library_description, lib.library_version) == \
        ("Snake Oil, Inc.", "Soft Token Library", "1.23")
    assert parse(RFC_EXAMPLES[4][0]).module_name == "mypkcs11"
    assert parse(RFC_EXAMPLES[5][0]).module_path == "/mnt/libmypkcs11.so.1"
    empty = parse("pkcs11:")
    assert empty.token is None and empty.id is None and empty.slot_id is None
    assert empty.format() == "pkcs11:"


def test_format_canonical_text():
    assert parse(RFC_EXAMPLES[9][0]).format() == \
        "pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;" \
        "id=%01%02%03%BA%DD%CA%FE%04%05%06"
    # reserved characters the RFC lets through stay literal; "&" only in the path,
    # "/", "?" and "|" only in the query; ";" and "%" always encoded.
    uri = build(token=":[]@!$'()*+,=&/?|;%# ", pin_source=":[]@!$'()*+,=&/?|;%# ")
    assert uri.format() == ("pkcs11:token=:[]@!$'()*+,=&%2F%3F%7C%3B%25%23%20"
                            "?pin-source=:[]@!$'()*+,=%26/?|%3B%25%23%20")
    assert parse(uri.format()) == uri
    # an id is always fully encoded, even printable bytes
    assert build(id=b"AZ09").format() == "pkcs11:id=%41%5A%30%39"


def test_round_trip_non_ascii_and_binary():
    uri = build(token="Gerät \u2013 試験", object="ключ 🔑", id=bytes(range(256)),
                serial="0001", slot_id=7, library_version=(2, 40), type="secret-key")
    text = uri.format()
    assert text.isascii()
    again = parse(text)
    assert again == uri
    assert again.token == "Gerät \u2013 試験" and again.object == "ключ 🔑"
    assert again.id == bytes(range(256))
    assert again.slot_id == 7 and again.library_version == "2.40"


def test_percent_escapes_are_case_insensitive_and_decoded_everywhere():
    uri = parse("pkcs11:token=%74%6f%6B%65%6E;object=a%2fb?module-path=%2Fusr%2flib%2Fm.so")
    assert uri.token == "token" and uri.object == "a/b" and uri.module_path == "/usr/lib/m.so"
    # literal "+" is a plus, not a space (this is not form encoding)
    assert parse("pkcs11:object=a+b").object == "a+b"


def test_vendor_attributes_keep_order_and_round_trip():
    uri = parse("pkcs11:zeta=1;token=t;alpha=%202?b-q=x&a_q=y&pin-source=f")
    assert list(uri.vendor_path) == ["zeta", "alpha"]
    assert uri.vendor_path == {"zeta": "1", "alpha": " 2"}
    assert uri.format() == "pkcs11:token=t;zeta=1;alpha=%202?pin-source=f&b-q=x&a_q=y"
    assert list(parse(uri.format()).query) == ["pin-source", "b-q", "a_q"]
    assert parse(uri.format()) == uri


def test_query_attribute_in_path_moves_to_query():
    # older OpenSSL-engine URIs put pin-value in the path
    uri = parse("pkcs11:token=mytoken;object=device;type=private;pin-value=1234")
    assert uri.pin_value == "1234" and "pin-value" not in uri.path
    assert uri.format() == "pkcs11:token=mytoken;object=device;type=private?pin-value=1234"


def test_repr_and_hidden_format_hide_pin_value():
    uri = parse("pkcs11:token=t?pin-value=s3cr3t-pin")
    assert "s3cr3t" not in repr(uri)
    assert repr(uri) == "PKCS11URI('pkcs11:token=t?pin-value=***')"
    assert uri.format(hide_pin=True) == "pkcs11:token=t?pin-value=***"
    assert "s3cr3t-pin" in uri.format()


def test_slot_id_and_library_version_syntax():
    assert parse("pkcs11:slot-id=0").slot_id == 0
    assert parse("pkcs11:slot-id=007").slot_id == 7
    assert parse("pkcs11:slot-id=18446744073709551615").slot_id == 2 ** 64 - 1
    assert parse("pkcs11:library-version=10").library_version == "10"
    assert parse("pkcs11:library-version=2.40").library_version == "2.40"


def test_is_uri():
    assert is_uri("pkcs11:") and is_uri("PKCS11:token=x")
    assert not is_uri("mytoken") and not is_uri("pkcs11") and not is_uri("")


def test_build_and_constructor():
    uri = build(token="dev", object="Device Priv TLS Key", type="private", id=b"\x01",
                pin_value=None, module_path="/m.so")
    assert uri.format() == "pkcs11:token=dev;object=Device%20Priv%20TLS%20Key;type=private;" \
                           "id=%01?module-path=/m.so"
    assert uri == PKCS11URI({"token": "dev", "object": "Device Priv TLS Key", "id": b"\x01",
                             "type": "private"}, {"module-path": "/m.so"})
    assert uri != build(token="dev")
    assert build(slot_id="12") == build(slot_id=12) == parse("pkcs11:slot-id=12")
    assert PKCS11URI({"x-vendor": "v"}).format() == "pkcs11:x-vendor=v"


@pytest.mark.parametrize("text,message", [
    ("token=x", "not a PKCS#11 URI: it must start with 'pkcs11:'"),
    ("pkcs11:id=%zz", "bad percent-escape in 'id': %zz"),
    ("pkcs11:object=abc%4", "bad percent-escape in 'object': %4"),
    ("pkcs11:object=abc%", "bad percent-escape in 'object': %"),
    ("pkcs11:token=my\ttoken", "character '\\t' is not allowed in 'token' (percent-encode it as %09)"),
    ("pkcs11:token=\u00e1", "character 'á' is not allowed in 'token' (percent-encode it as %C3%A1)"),
    ("pkcs11:token=a?b", None),   # "?" starts the query: "b" has no value
    ("pkcs11:object=a/b", "character '/' is not allowed in 'object' (percent-encode it as %2F)"),
    ("pkcs11:token=t?module-name=a&b", "query attribute 'b' has no '=value'"),
    ("pkcs11:token=t?module-name=a;b", "character ';' is not allowed in 'module-name' "
                                       "(percent-encode it as %3B)"),
    ("pkcs11:token=a;token=b", "duplicate path attribute 'token'"),
    ("pkcs11:x-v=a;x-v=b", "duplicate path attribute 'x-v'"),
    ("pkcs11:?module-name=a&module-name=b", "duplicate query attribute 'module-name'"),
    ("pkcs11:?x=a&x=b", "duplicate query attribute 'x'"),
    ("pkcs11:token=a;;object=b", "empty attribute 2 in the path (stray ';')"),
    ("pkcs11:token=a;", "empty attribute 2 in the path (stray ';')"),
    ("pkcs11:?pin-source=a&", "empty attribute 2 in the query (stray '&')"),
    ("pkcs11:token", "path attribute 'token' has no '=value'"),
    ("pkcs11:=x", "empty attribute name in the path"),
    ("pkcs11:to.ken=x", "bad attribute name 'to.ken' in the path: names are letters, digits, "
                        "'-' and '_'"),
    ("pkcs11:Token=x", "attribute names are case-sensitive: write 'token', not 'Token'"),
    ("pkcs11:?PIN-VALUE=x", "attribute names are case-sensitive: write 'pin-value', not 'PIN-VALUE'"),
    ("pkcs11:?token=x", "'token' is a path attribute: write it before '?'"),
    ("pkcs11:type=key", "bad 'type' 'key': expected one of public, private, cert, secret-key, data"),
    ("pkcs11:type=Private", "bad 'type' 'Private': expected one of public, private, cert, "
                            "secret-key, data"),
    ("pkcs11:type=", "bad 'type' '': expected one of public, private, cert, secret-key, data"),
    ("pkcs11:slot-id=1a", "bad 'slot-id' '1a': expected a decimal number"),
    ("pkcs11:slot-id=-1", "bad 'slot-id' '-1': expected a decimal number"),
    ("pkcs11:slot-id=", "bad 'slot-id' '': expected a decimal number"),
    ("pkcs11:slot-id=18446744073709551616", "bad 'slot-id' '18446744073709551616': larger than a "
                                            "CK_SLOT_ID"),
    ("pkcs11:library-version=1.", "bad 'library-version' '1.': expected M or M.N (decimal)"),
    ("pkcs11:library-version=.1", "bad 'library-version' '.1': expected M or M.N (decimal)"),
    ("pkcs11:library-version=1.2.3", "bad 'library-version' '1.2.3': expected M or M.N (decimal)"),
    ("pkcs11:library-version=v1", "bad 'library-version' 'v1': expected M or M.N (decimal)"),
    ("pkcs11:token=%FF", "'token' is not UTF-8 after percent-decoding"),
    ("pkcs11:?pin-source=a&pin-value=b", "'pin-value' and 'pin-source' must not both be given"),
    ("pkcs11:token=t#frag", "character '#' is not allowed in 'token' (percent-encode it as %23)"),
])
def test_errors_name_the_bad_part(text, message):
    with pytest.raises(URIError) as info:
        parse(text)
    assert isinstance(info.value, ValueError)
    if message is None:
        assert str(info.value) == "query attribute 'b' has no '=value'"
    else:
        assert str(info.value) == message


@pytest.mark.parametrize("text", [
    "pkcs11:token=t?pin-value=Qz9\twq",
    "pkcs11:token=t?pin-value=Qz9%zzwq",
    "pkcs11:token=t?pin-value=Qz9wq%",
    "pkcs11:token=t?pin-value=Qz9wq%FF",
    "pkcs11:token=t?pin-value=Qz9wq&pin-value=Qz9wq",
    "pkcs11:token=t?pin-value=Qz9wq;&x=1",
    "pkcs11:token=t?pin-value=Qz9wq&pin-source=/x",
    "pkcs11:token=t;type=bad?pin-value=Qz9wq",
    "pkcs11:token=t?pin-value=%wq9",           # the bad escape is itself part of the PIN
    "pkcs11:token=t?pin-value=\u00f1wq",     # so is the character needing an escape
])
def test_errors_never_echo_a_pin_value(text):
    with pytest.raises(URIError) as info:
        parse(text)
    message = str(info.value)
    assert "Qz9" not in message and "wq" not in message and "\u00f1" not in message


@pytest.mark.parametrize("kwargs,message", [
    ({"tokn": "x"}, "unknown PKCS#11 URI attribute 'tokn'"),
    ({"id": "01"}, "'id' must be bytes, not str"),
    ({"slot_id": -1}, "bad 'slot-id' -1: not a CK_SLOT_ID"),
    ({"slot_id": True}, "'slot-id' must be an int, not bool"),
    ({"type": "cert "}, "bad 'type' 'cert ': expected one of public, private, cert, secret-key, data"),
    ({"library_version": "x"}, "bad 'library-version' 'x': expected M or M.N (decimal)"),
    ({"library_version": (1,)}, "bad 'library-version' (1,): expected (major, minor)"),
    ({"token": 5}, "'token' must be a str, not int"),
    ({"pin_value": "a", "pin_source": "b"}, "'pin-value' and 'pin-source' must not both be given"),
])
def test_build_errors(kwargs, message):
    with pytest.raises(URIError) as info:
        build(**kwargs)
    assert str(info.value) == message


def test_constructor_errors():
    with pytest.raises(URIError, match="'pin-value' is a query attribute, not a path attribute"):
        PKCS11URI({"pin-value": "x"})
    with pytest.raises(URIError, match="'object' is a path attribute, not a query attribute"):
        PKCS11URI({}, {"object": "x"})
    with pytest.raises(URIError, match="bad attribute name 'a b' in the query"):
        PKCS11URI({}, {"a b": "x"})


# --- matching (RFC 7512 §3.3) ------------------------------------------------------------

TOKEN_INFO = {"token": "dev" + " " * 29, "manufacturer": "strongroom" + " " * 22,
              "serial": "0123456789abcdef", "model": "strongroom      "}


def test_empty_uri_matches_everything():
    uri = parse("pkcs11:")
    assert uri.matches_token(TOKEN_INFO)
    assert uri.matches_token({})
    assert uri.matches_slot({"slot-id": 3})
    assert uri.matches_library({})
    assert uri.matches_object({"object": "x", "id": b"", "type": "data"})


def test_token_match_present_attributes_must_equal():
    assert parse("pkcs11:token=dev").matches_token(TOKEN_INFO)      # padding stripped
    assert parse("pkcs11:token=dev;manufacturer=strongroom;serial=0123456789abcdef;"
                 "model=strongroom").matches_token(TOKEN_INFO)
    assert not parse("pkcs11:token=Dev").matches_token(TOKEN_INFO)   # case matters
    assert not parse("pkcs11:token=de").matches_token(TOKEN_INFO)    # no prefix match
    assert not parse("pkcs11:token=dev;serial=1").matches_token(TOKEN_INFO)
    assert not parse("pkcs11:model=x").matches_token(TOKEN_INFO)
    # a value the caller does not supply cannot be checked
    assert not parse("pkcs11:serial=1").matches_token({"token": "dev"})
    # object attributes do not take part in token matching
    assert parse("pkcs11:token=dev;object=k;type=private").matches_token(TOKEN_INFO)
    # an empty serial matches only an empty (all-blank) serial
    assert parse("pkcs11:serial=").matches_token({"serial": " " * 16})
    assert not parse("pkcs11:serial=").matches_token(TOKEN_INFO)
    # padded bytes as they come from CK_TOKEN_INFO
    assert parse("pkcs11:token=G%C3%A9r%C3%A4t").matches_token(
        {"token": "Gérät".encode() + b" " * 25})


def test_unknown_vendor_path_attribute_never_matches():
    uri = parse("pkcs11:token=dev;x-color=blue")
    assert not uri.matches_token(TOKEN_INFO)
    assert not uri.matches_token({**TOKEN_INFO, "x-color": "blue"})
    assert not uri.matches_slot({"slot-id": 0})
    assert not uri.matches_library({})
    assert not uri.matches_object({"object": "k"})
    # a vendor *query* attribute changes nothing
    assert parse("pkcs11:token=dev?x-color=blue").matches_token(TOKEN_INFO)


def test_slot_match():
    info = {"slot-id": 2, "slot-description": "strongroom slot 2" + " " * 47,
            "slot-manufacturer": "strongroom"}
    assert parse("pkcs11:slot-id=2").matches_slot(info)
    assert parse("pkcs11:slot-id=02;slot-description=strongroom%20slot%202;"
                 "slot-manufacturer=strongroom").matches_slot(info)
    assert not parse("pkcs11:slot-id=3").matches_slot(info)
    assert not parse("pkcs11:slot-id=2").matches_slot({"slot-id": "2"})
    assert not parse("pkcs11:slot-description=other").matches_slot(info)
    assert not parse("pkcs11:slot-id=2").matches_slot({})
    assert parse("pkcs11:token=t").matches_slot(info)


def test_library_match_versions_compare_as_numbers():
    info = {"library-manufacturer": "strongroom" + " " * 22,
            "library-description": "strongroom PKCS#11 token" + " " * 8,
            "library-version": "1.5"}
    assert parse("pkcs11:library-manufacturer=strongroom;library-version=1.5").matches_library(info)
    assert parse("pkcs11:library-version=1.05").matches_library(info)
    assert parse("pkcs11:library-version=1.5").matches_library({**info, "library-version": (1, 5)})
    assert parse("pkcs11:library-version=3").matches_library({"library-version": (3, 0)})
    assert parse("pkcs11:library-version=3").matches_library({"library-version": "3.0"})
    assert not parse("pkcs11:library-version=3").matches_library({"library-version": (3, 1)})
    assert not parse("pkcs11:library-version=1.50").matches_library(info)
    assert not parse("pkcs11:library-version=1.5").matches_library({})
    assert not parse("pkcs11:library-version=1.5").matches_library({"library-version": "junk"})
    assert not parse("pkcs11:library-description=strongroom").matches_library(info)


def test_object_match_and_type_mapping():
    key = {"object": "Device Priv TLS Key", "id": b"\x01\x02", "type": "private"}
    assert parse("pkcs11:object=Device%20Priv%20TLS%20Key;type=private;id=%01%02").matches_object(key)
    assert parse("pkcs11:id=%01%02").matches_object(key)
    assert not parse("pkcs11:id=%01").matches_object(key)
    assert not parse("pkcs11:id=").matches_object(key)
    assert parse("pkcs11:id=").matches_object({"id": b""})
    assert not parse("pkcs11:object=Device").matches_object(key)
    assert not parse("pkcs11:type=public").matches_object(key)
    assert not parse("pkcs11:type=private").matches_object({"object": "x"})
    # labels are not padded: trailing spaces in CKA_LABEL count
    assert not parse("pkcs11:object=k").matches_object({"object": "k "})
    # type may be given as the CKO_ class number (python-pkcs11's ObjectClass is an int)
    for name, cls in TYPE_TO_CLASS.items():
        assert parse(f"pkcs11:type={name}").matches_object({"type": cls})
        assert CLASS_TO_TYPE[cls] == name
        assert parse(f"pkcs11:type={name}").object_class == cls
    assert not parse("pkcs11:type=private").matches_object({"type": 2})
    assert not parse("pkcs11:type=private").matches_object({"type": 0x80000000})
    assert TYPE_TO_CLASS == {"data": 0, "cert": 1, "public": 2, "private": 3, "secret-key": 4}


# Issue 11 item 15: URIs as Azure IoT writes them carry a literal space.

def test_literal_space_is_read_as_a_space():
    uri = parse("pkcs11:slot-id=0;object=device id?pin-value=1234")
    assert uri.object == "device id" and uri.slot_id == 0 and uri.pin_value == "1234"
    assert parse("pkcs11:token=my token;object=Device Priv TLS Key").token == "my token"
    assert parse("pkcs11:object=a b?pin-source=file:/p a/pin").pin_source == "file:/p a/pin"


def test_space_is_always_written_as_percent_20():
    text = parse("pkcs11:slot-id=0;object=device id?pin-value=1 2").format()
    assert text == "pkcs11:slot-id=0;object=device%20id?pin-value=1%202"
    assert parse(text) == parse("pkcs11:slot-id=0;object=device id?pin-value=1 2")
    assert build(object="Device Cert TLS").format() == "pkcs11:object=Device%20Cert%20TLS"
