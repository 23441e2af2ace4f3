"""The README's Python API example runs as written (strongroom's own module)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from support import make_home, subprocess_env

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_api_example(tmp_path):
    text = README.read_text()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    home = tmp_path / "home"
    make_home(home)
    setup = ("from strongroom.api import admin\n"
             "admin.init_token(None, None, '87654321', 'mytoken', user_pin='1234')\n")
    out = subprocess.run([sys.executable, "-c", setup + code], env=subprocess_env(home),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("pkcs11:token=mytoken;object=imported;type=private;id=")
    count = ("import strongroom\n"
             "with strongroom.open('mytoken', pin='1234') as t:\n"
             "    print(len(t.find_all(label='web')), len(t.find_all(label='imported')))\n")
    again = subprocess.run([sys.executable, "-c", code + count], env=subprocess_env(home),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "2 2"      # re-run: one pair each, no duplicates
