"""Issue 11 item 8 (import part): a PKCS#12 import that the token cannot hold completely
(a small quota_objects) is rolled back, and the message says that nothing was stored."""
from __future__ import annotations

import json

from cli_keys import PASSWORD, pkcs12_bundle
from cli_support import CLI, USER_PIN, error_line

from support import Tool, make_home


def test_rolled_back_pkcs12_import_says_nothing_was_stored(tmp_path, module):
    home = tmp_path / "home"
    make_home(home, "quota_objects = 3\n")       # the bundle needs 4: key pair, leaf, CA certificate
    Tool(module, home).init_token("t")
    cli = CLI(home)
    pkcs12_bundle(tmp_path / "dev.p12")
    proc = cli.user("key", "import", str(tmp_path / "dev.p12"), "--password", PASSWORD.decode(), code=1)
    line = error_line(proc)
    assert line.endswith("; nothing was stored (3 object(s) created before it were removed again)"), line
    assert "CKR_DEVICE_MEMORY" in line or "full" in line, line
    objects = json.loads(cli("objects", "--token", "t", "--pin", USER_PIN, "--json").stdout)
    assert objects == []
