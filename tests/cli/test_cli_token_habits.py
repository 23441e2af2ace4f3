"""Token and PIN command habits (issue 11 items 11, 12): ``--version``, examples in every
token/pin ``--help``, no option a command ignores, help text on every option; an
interactive ``token init`` that asks for the SO PIN twice and then the user PIN, PIN
prompts that name the token, ``token info`` saying "user PIN: not set".

The interactive tests run the real command on a pseudo-terminal (python's pty module):
getpass reads from the controlling terminal, so a pipe on stdin would not reach it."""
from __future__ import annotations

import argparse
import os
import pty
import select

import pytest
from cli_support import CLI, SO_PIN, STRONGROOM, USER_PIN, error_line

from strongroom import __version__
from strongroom.cli.main import build_parser

_HANG_GUARD = 120.0   # seconds without output before the test gives up (not a timing assertion)


class Terminal:
    """``strongroom`` on a pty: wait for an exact prompt, answer it, read the transcript."""

    def __init__(self, cli: CLI, *argv: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:                               # the child: the command, on the pty
            os.chdir(cli.home.parent)
            os.execve(STRONGROOM, [STRONGROOM, *argv], cli.env)
        self.transcript = ""

    def _read(self) -> bool:
        ready, _, _ = select.select([self.fd], [], [], _HANG_GUARD)
        assert ready, f"no output for {_HANG_GUARD}s; so far: {self.transcript!r}"
        try:
            data = os.read(self.fd, 4096)
        except OSError:                                 # EIO: the child closed the pty
            return False
        self.transcript += data.decode(errors="replace").replace("\r\n", "\n")
        return bool(data)

    def answer(self, prompt: str, text: str) -> None:
        """Wait until the transcript ends with `prompt` exactly, then type `text`."""
        while not self.transcript.endswith(prompt):
            assert self._read(), f"ended before {prompt!r}: {self.transcript!r}"
        os.write(self.fd, text.encode() + b"\n")

    def finish(self) -> int:
        while self._read():
            pass
        os.close(self.fd)
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)


SO_PROMPT = "New SO PIN for token 'work': "
SO_AGAIN = "New SO PIN for token 'work' again: "
USER_PROMPT = "New user PIN for token 'work' (empty: set it later with 'strongroom pin set'): "
USER_AGAIN = "New user PIN for token 'work' (empty: set it later with 'strongroom pin set') again: "


def _labels(cli: CLI) -> list[str]:
    return [t["label"] for t in cli.json("token", "list") if t.get("label")]


def test_interactive_init_asks_so_pin_twice_then_user_pin(cli):
    term = Terminal(cli, "token", "init", "--label", "work")
    for prompt, text in ((SO_PROMPT, SO_PIN), (SO_AGAIN, SO_PIN), (USER_PROMPT, USER_PIN), (USER_AGAIN, USER_PIN)):
        term.answer(prompt, text)
    assert term.finish() == 0
    assert term.transcript == (f"{SO_PROMPT}\n{SO_AGAIN}\n{USER_PROMPT}\n{USER_AGAIN}\n"
                               "token 'work' initialised in slot 0; user PIN set\n")
    assert _labels(cli) == ["work"]
    cli("key", "list", "--token", "work", "--pin", USER_PIN)           # both PINs are the typed ones
    cli("pin", "set", "--token", "work", "--so-pin", SO_PIN, "--pin", USER_PIN)


def test_interactive_init_so_pin_mismatch_creates_nothing(cli):
    term = Terminal(cli, "token", "init", "--label", "work")
    term.answer(SO_PROMPT, SO_PIN)
    term.answer(SO_AGAIN, SO_PIN + "x")
    assert term.finish() == 2
    assert term.transcript == (f"{SO_PROMPT}\n{SO_AGAIN}\n"
                               "strongroom: error: the two SO PINs typed differ: nothing was created\n")
    assert _labels(cli) == []


def test_interactive_init_user_pin_later_then_info_says_not_set(cli):
    term = Terminal(cli, "token", "init", "--label", "work")
    term.answer(SO_PROMPT, SO_PIN)
    term.answer(SO_AGAIN, SO_PIN)
    term.answer(USER_PROMPT, "")
    assert term.finish() == 0
    assert term.transcript.endswith(
        "token 'work' initialised in slot 0; set the user PIN with 'strongroom pin set --token work'\n")
    info = cli.text("token", "info", "--token", "work").splitlines()
    assert "user PIN:       not set ('strongroom pin set' sets it)" in info
    assert cli.json("token", "info", "--token", "work")["user_pin"] == "not set"


def test_pin_prompts_name_the_token(token):
    term = Terminal(token, "key", "list", "--token", "t")
    term.answer("User PIN for token 't': ", USER_PIN)
    assert term.finish() == 0
    term = Terminal(token, "key", "list")                      # the only token: named all the same
    term.answer("User PIN for token 't': ", USER_PIN)
    assert term.finish() == 0
    term = Terminal(token, "pin", "set", "--token", "t")
    term.answer("New user PIN for token 't': ", "new-user-pin")
    term.answer("New user PIN for token 't' again: ", "new-user-pin")
    term.answer("SO PIN for token 't': ", SO_PIN)
    assert term.finish() == 0
    assert term.transcript.endswith("token 't': user PIN set\n")


def test_non_interactive_init_without_so_pin_is_one_line(cli):
    proc = cli("token", "init", "--label", "work", code=4)
    assert error_line(proc) == ("strongroom: error: no SO PIN: give --so-pin-source file:PATH|env:NAME "
                                "or --so-pin (or run on a terminal)")
    assert _labels(cli) == []


# --- item 11: --version, examples, options ----------------------------------------------


def test_version(cli):
    assert cli.text("--version") == f"strongroom {__version__}\n"


def _subcommands(group: str) -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    top = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub = next(a for a in top.choices[group]._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


MINE = [(group, name) for group in ("token", "pin") for name in _subcommands(group)]


@pytest.mark.parametrize("group, name", MINE)
def test_every_token_and_pin_command_has_examples_and_option_help(group, name, cli):
    text = cli.text(group, name, "--help")
    examples = text.split("examples:\n", 1)[1].splitlines()
    assert examples and all(line.startswith(f"  strongroom {group} {name}") for line in examples)
    for action in _subcommands(group)[name]._actions:
        assert action.help, f"{group} {name} {action.option_strings} has no help text"


@pytest.mark.parametrize("group", ["token", "pin"])
def test_token_and_pin_groups_have_examples(group, cli):
    examples = cli.text(group, "--help").split("examples:\n", 1)[1].splitlines()
    assert len(examples) == 2 and all(line.startswith(f"  strongroom {group} ") for line in examples)


def test_no_option_a_command_ignores(cli):
    init = cli.text("token", "init", "--help")
    delete = cli.text("token", "delete", "--help")
    assert "--token" not in init and "--so-pin" in init and "--pin PIN" in init
    assert "--pin PIN" not in delete and "--pin-source" not in delete and "--so-pin-source" in delete
    assert cli("token", "init", "--label", "x", "--token", "y", code=2).returncode == 2


def test_top_level_help_has_examples(cli):
    text = cli.text("--help")
    assert "examples:\n  strongroom token init --label work\n" in text and "--version" in text
