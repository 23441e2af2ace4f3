"""C_Initialize stays light: the embedded module imports the core at every process start,
so what the core imports by then is the cold start (bench/ measures the milliseconds;
this test keeps the heavy modules from creeping back onto that path)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

#: Imported where first needed (key creation, a parameter, a mechanism), never at C_Initialize.
HEAVY = ("typing", "dataclasses", "inspect", "cryptography", "strongroom.pkcs11.params",
         "strongroom.pkcs11.ckm", "strongroom.mechanisms.keys", "strongroom.mechanisms.checkvalue",
         "importlib")   # datetime and warnings come with sqlite3 (the store) anyway

_CODE = """
import json, sys
from strongroom.token.inprocess import APPLICATION
APPLICATION.initialize(None)
APPLICATION.slots.get_slot_list(False)
APPLICATION.finalize()
print(json.dumps(sorted(sys.modules)))
"""


def test_initialize_imports_nothing_heavy(tmp_path: Path) -> None:
    # -I: an isolated interpreter, as the module starts one in a C host (abi/shim.c)
    env = {"STRONGROOM_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-I", "-c", _CODE], env=env, capture_output=True, text=True,
                         check=True).stdout
    loaded = json.loads(out)
    assert "strongroom.token.application" in loaded      # the probe did run the core
    heavy = [m for m in loaded if m in HEAVY or m.split(".")[0] in HEAVY]
    assert heavy == []
