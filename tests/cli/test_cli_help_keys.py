"""Issue 11 item 11 for the key, cert, object and crypto commands: every option has help
text, every command an "examples:" epilog, and `-m` offers only mechanisms that fit."""
from __future__ import annotations

import argparse

import pytest

from strongroom.cli.main import build_parser

COMMANDS = [("key", "generate"), ("key", "import"), ("key", "list"), ("key", "show"), ("key", "export-public"),
            ("key", "delete"), ("cert", "import"), ("cert", "list"), ("cert", "show"), ("cert", "export"),
            ("cert", "delete"), ("object", "set-label"), ("objects",), ("sign",), ("verify",), ("encrypt",),
            ("decrypt",)]


def _subparser(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_option_has_help_and_the_command_examples(path):
    parser = _subparser(path)
    missing = [a.option_strings or a.dest for a in parser._actions
               if not isinstance(a, argparse._HelpAction) and not a.help]
    assert missing == []
    assert parser.epilog and parser.epilog.startswith("examples:\n  strongroom "), parser.epilog
    assert len(parser.epilog.splitlines()) >= 2


def _mechanism_help(op: str) -> str:
    return next(a.help for a in _subparser((op,))._actions if "--mechanism" in a.option_strings)


def test_mechanism_help_fits_the_command():
    for op in ("sign", "verify"):
        text = _mechanism_help(op)
        assert "ECDSA-SHA256" in text and "AES-GCM" not in text and "OAEP" not in text
    for op in ("encrypt", "decrypt"):
        text = _mechanism_help(op)
        assert "AES-GCM" in text and "ECDSA" not in text and "HMAC" not in text


def test_a_mechanism_that_does_not_fit_is_refused(token):
    from cli_support import error_line

    proc = token.user("sign", "--key", "x", "-m", "AES-GCM", "-o", "/dev/null", input=b"d", code=2)
    assert error_line(proc).startswith("strongroom: error: AES-GCM is not a mechanism to sign with; give one of "
                                       "ECDSA-SHA256")
    proc = token.user("encrypt", "--key", "x", "-m", "ECDSA-SHA256", "-o", "/dev/null", input=b"d", code=2)
    assert error_line(proc).startswith("strongroom: error: ECDSA-SHA256 is not a mechanism to encrypt with")
