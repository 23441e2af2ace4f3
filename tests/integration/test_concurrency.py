"""Two processes x 4 threads on one token: signing plus object churn, no error, counts agree."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support import USER_PIN, Tool

WORKER = Path(__file__).with_name("concurrency_worker.py")


def test_two_processes_four_threads(tool: Tool, module):
    tool.init_token("shared")
    tool.run("--login", "--pin", USER_PIN, "--keypairgen", "--key-type", "EC:prime256v1",
             "--label", "shared", "--id", "01", token="shared")
    procs = [subprocess.Popen([sys.executable, str(WORKER), module, "shared", USER_PIN, "10", "4", tag],
                              env=tool.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for tag in ("p1", "p2")]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"worker failed:\n{out}\n{err}"
        reports.append(json.loads(out.strip().splitlines()[-1]))
    for report in reports:
        assert report["errors"] == []
        assert report["signed"] > 0 and report["created"] > 0
    # Count what is left on the token from a third process.
    check = subprocess.run(
        [sys.executable, "-c", COUNT_SCRIPT, module, USER_PIN], env=tool.env,
        capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    left = json.loads(check.stdout)
    for report in reports:
        assert left[report["tag"]] == report["created"] - report["destroyed"]


COUNT_SCRIPT = """
import json, sys, pkcs11
from pkcs11 import Attribute, ObjectClass
lib = pkcs11.lib(sys.argv[1])
token = lib.get_token(token_label="shared")
with token.open(user_pin=sys.argv[2]) as s:
    out = {tag: len(list(s.get_objects({Attribute.CLASS: ObjectClass.DATA, Attribute.APPLICATION: tag})))
           for tag in ("p1", "p2")}
print(json.dumps(out))
"""
