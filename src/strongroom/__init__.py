"""strongroom: a PKCS#11 (Cryptoki) token written in Python."""

__version__ = "0.1.0"


def open(*args, **kwargs):
    """Open a token (strongroom.api.open): imported on first use, because the module's
    embedded interpreter imports this package at every C_Initialize."""
    from strongroom.api import open as _open

    return _open(*args, **kwargs)
