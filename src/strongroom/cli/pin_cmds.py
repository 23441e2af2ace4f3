"""placeholder; commands follow."""
from typing import Any


def register(subparsers: Any) -> None:
    """No commands yet."""
