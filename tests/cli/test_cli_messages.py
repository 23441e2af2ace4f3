"""Errors that say what to do (issue 11 items 7, 8, 9, 13): a config mistake, a full
token, a PIN or key size out of range, a PIN about to lock or locked, an unsupported key
kind, a missing user PIN, a home that does not exist. Each is one line, no traceback,
and names the file / key / command that fixes it."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_support import CLI, SO_PIN, STRONGROOM, USER_PIN, error_line

from support import make_home, subprocess_env

# --- item 7: config mistakes -----------------------------------------------------------


def _home_with(tmp_path: Path, extra: str) -> CLI:
    home = tmp_path / "home"
    make_home(home, extra)
    return CLI(home)


@pytest.mark.parametrize("line, problem", [
    ("quota_bites = 3000", "unknown key 'quota_bites' (did you mean 'quota_bytes'?)"),
    ('quota_bytes = "3k"', 'quota_bytes = "3k": must be a non-negative integer (no quotes, no unit)'),
    ("max_sessions = -1", "max_sessions = -1: must be a non-negative integer (no quotes, no unit)"),
])
def test_config_mistake_names_file_key_and_problem(tmp_path, line, problem):
    cli = _home_with(tmp_path, line + "\n")
    cfg = cli.home / "strongroom.toml"
    for argv in (("token", "list"), ("token", "init", "--label", "t", "--so-pin", SO_PIN)):
        proc = cli(*argv, code=2)
        assert error_line(proc) == f"strongroom: error: {cfg}: {problem}"
    assert not (cli.home / "strongroom.db").exists()


def test_home_that_cannot_be_created_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("not a directory")
    home = tmp_path / "afile" / "home"
    proc = subprocess.run([STRONGROOM, "token", "init", "--label", "t", "--so-pin", SO_PIN],
                          env=subprocess_env(home), capture_output=True, timeout=120, cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert error_line(proc) == f"strongroom: error: cannot create {home} (STRONGROOM_HOME): Not a directory"


def _pkcs11_tool_list(module: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["pkcs11-tool", "--module", module, "--list-slots"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_module_writes_the_config_line_once_to_stderr_and_log(tmp_path, module):
    home = tmp_path / "home"
    make_home(home, "quota_bites = 3000\n")
    proc = _pkcs11_tool_list(module, subprocess_env(home))
    line = f"{home / 'strongroom.toml'}: unknown key 'quota_bites' (did you mean 'quota_bytes'?)"
    assert proc.returncode != 0 and "CKR_GENERAL_ERROR" in proc.stderr
    assert proc.stderr.count(line) == 1 and f"strongroom: {line}\n" in proc.stderr
    assert "Traceback" not in proc.stderr and "File \"" not in proc.stderr
    assert (home / "strongroom.log").read_text().count(line) == 1


def test_module_reports_an_uncreatable_home_once(tmp_path, module):
    (tmp_path / "afile").write_text("not a directory")
    home = tmp_path / "afile" / "home"
    proc = _pkcs11_tool_list(module, subprocess_env(home))
    line = f"strongroom: cannot open the token store in {home} (STRONGROOM_HOME): Not a directory\n"
    assert proc.returncode != 0 and proc.stderr.count(line) == 1
    assert "Traceback" not in proc.stderr and "File \"" not in proc.stderr


# --- item 8: a full token says what is full and which key raises it ----------------------


def _token(tmp_path: Path, extra: str = "") -> CLI:
    cli = _home_with(tmp_path, extra)
    cli("token", "init", "--label", "t", "--so-pin", SO_PIN, "--pin", USER_PIN)
    return cli


def test_token_full_of_objects_names_quota_objects(tmp_path):
    cli = _token(tmp_path, "quota_objects = 3\n")
    cli.user("key", "generate", "--type", "ec:p256", "--label", "k1")
    proc = cli.user("key", "generate", "--type", "ec:p256", "--label", "k2", code=1)
    assert error_line(proc) == (
        "strongroom: error: generating a ec:p256 key pair on token 't' failed: CKR_DEVICE_MEMORY: "
        f"token 't' is full: objects 2 of 3 (raise quota_objects in {cli.home / 'strongroom.toml'})")


def test_token_full_of_bytes_names_quota_bytes(tmp_path):
    cli = _token(tmp_path, "quota_bytes = 1500\n")
    cli.user("key", "generate", "--type", "ec:p256", "--label", "k1")
    used = cli.json("token", "info", "--token", "t")["storage"]["bytes_used"]
    proc = cli.user("key", "generate", "--type", "ec:p256", "--label", "k2", code=1)
    assert error_line(proc) == (
        "strongroom: error: generating a ec:p256 key pair on token 't' failed: CKR_DEVICE_MEMORY: "
        f"token 't' is full: bytes {used} of 1500 (raise quota_bytes in {cli.home / 'strongroom.toml'})")


# --- item 9: bare CKR names get their remedy ---------------------------------------------


def test_pin_len_range_gives_the_range(tmp_path):
    cli = _token(tmp_path)
    proc = cli("pin", "change", "--token", "t", "--pin", USER_PIN, "--new-pin", "12", code=1)
    assert error_line(proc) == (
        "strongroom: error: changing the PIN of token 't' failed: CKR_PIN_LEN_RANGE: PINs of this token "
        f"are 4 to 255 bytes long (pin_min_len / pin_max_len in {cli.home / 'strongroom.toml'})")


def test_key_size_range_gives_the_range(tmp_path):
    cli = _token(tmp_path, "rsa_min_generate_bits = 3072\n")
    proc = cli.user("key", "generate", "--type", "rsa:2048", "--label", "r", code=1)
    assert error_line(proc) == (
        "strongroom: error: generating a rsa:2048 key pair on token 't' failed: CKR_KEY_SIZE_RANGE: "
        "this token generates RSA keys of 3072 to 8192 bits "
        f"(rsa_min_generate_bits in {cli.home / 'strongroom.toml'})")


def test_wrong_user_pins_count_down_then_name_pin_unlock(tmp_path):
    cli = _token(tmp_path)          # pin_max_tries = 5 (tests/support.py)
    lines = [error_line(cli("key", "list", "--token", "t", "--pin", "wrong-pin", code=4)) for _ in range(5)]
    head = "strongroom: error: incorrect user PIN for token 't' (CKR_PIN_INCORRECT; PIN state now: "
    assert lines[:4] == [head + "count_low): 4 tries left before the user PIN locks",
                         head + "count_low): 3 tries left before the user PIN locks",
                         head + "count_low): 2 tries left before the user PIN locks",
                         head + "final_try): 1 try left before the user PIN locks"]
    unlock = "the SO unlocks it by setting a new user PIN: 'strongroom pin unlock --token t'"
    assert lines[4] == head + "locked): " + unlock
    proc = cli("key", "list", "--token", "t", "--pin", USER_PIN, code=4)
    assert error_line(proc) == f"strongroom: error: the user PIN of token 't' is locked (CKR_PIN_LOCKED): {unlock}"
    cli("pin", "unlock", "--token", "t", "--so-pin", SO_PIN, "--pin", "new-user-pin")   # the remedy works
    cli("key", "list", "--token", "t", "--pin", "new-user-pin")


def test_locked_so_pin_names_token_reset(tmp_path):
    cli = _token(tmp_path)
    for _ in range(5):
        cli("pin", "set", "--token", "t", "--so-pin", "wrong-so-pin", "--pin", "1234x", code=4)
    proc = cli("pin", "set", "--token", "t", "--so-pin", SO_PIN, "--pin", "1234x", code=4)
    assert error_line(proc) == (
        "strongroom: error: the SO PIN of token 't' is locked (CKR_PIN_LOCKED): no PIN can unlock a locked "
        "SO PIN: 'strongroom token reset --token t' wipes the token (its objects are lost) and frees the "
        "slot for 'strongroom token init'")
    cli("token", "reset", "--token", "t", "--yes")                                      # the remedy works


def test_unsupported_parameter_set_names_the_ckr_and_why(tmp_path):
    cli = _token(tmp_path)
    proc = cli.user("key", "generate", "--type", "ml-kem-512", "--label", "kem", code=1)
    assert error_line(proc) == (
        "strongroom: error: generating a ml-kem-512 key pair on token 't' failed: "
        "CKR_PARAMETER_SET_NOT_SUPPORTED: strongroom has no ML-KEM-512 (pyca/cryptography does not "
        "implement it): use ml-kem-768 or ml-kem-1024")


def test_user_pin_not_initialized_names_pin_set(tmp_path):
    cli = _home_with(tmp_path, "")
    cli("token", "init", "--label", "nopin", "--so-pin", SO_PIN)
    proc = cli("key", "list", "--token", "nopin", "--pin", USER_PIN, code=1)
    assert error_line(proc) == (
        "strongroom: error: logging in as user to token 'nopin' failed: CKR_USER_PIN_NOT_INITIALIZED: "
        "the token has no user PIN yet: the SO sets it with 'strongroom pin set --token nopin'")
    cli("pin", "set", "--token", "nopin", "--so-pin", SO_PIN, "--pin", USER_PIN)       # the remedy works
    cli("key", "list", "--token", "nopin", "--pin", USER_PIN)


# --- item 13: a home that does not exist --------------------------------------------------


@pytest.mark.parametrize("argv", [("token", "list"), ("token", "info"), ("key", "list"), ("objects",),
                                  ("cert", "list"), ("pin", "set", "--so-pin", SO_PIN, "--pin", USER_PIN)])
def test_missing_home_is_reported_not_created(tmp_path, argv):
    home = tmp_path / "missing"
    proc = CLI(home)(*argv, code=3)
    assert error_line(proc) == (
        f"strongroom: error: no token store: {home} (STRONGROOM_HOME) does not exist; "
        "'strongroom token init --label NAME' creates it with a first token")
    assert not home.exists()


def test_token_list_and_info_name_the_store(tmp_path):
    cli = _token(tmp_path)
    db = cli.home / "strongroom.db"
    assert cli.text("token", "list").splitlines()[-1] == f"store: {db}"
    assert f"store:          {db}" in cli.text("token", "info", "--token", "t").splitlines()


def test_readme_config_errors_are_the_real_ones(tmp_path):
    """The README's Configuration section shows these lines: they must stay true."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    shown = section.split("```\n", 2)[1].splitlines()
    doc_path = "/home/me/.local/share/strongroom/strongroom.toml"
    for line, key in zip(shown, ("quota_bites = 3000", 'quota_bytes = "3k"'), strict=True):
        cli = _home_with(tmp_path / key.split()[0], key + "\n")
        real = error_line(cli("token", "list", code=2))
        assert real == line.replace(doc_path, str(cli.home / "strongroom.toml"))


def test_missing_home_does_not_stop_verify_with_a_certificate(tmp_path):
    """verify --cert FILE needs no token: no store check, and no home is created."""
    home = tmp_path / "missing"
    proc = CLI(home)("verify", "--cert", str(tmp_path / "absent.pem"), "--signature", "x", "-i", "y",
                     check=False)
    assert "no token store" not in proc.stderr.decode()
    assert not home.exists()
