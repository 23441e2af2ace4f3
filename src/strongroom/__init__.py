"""strongroom: a PKCS#11 (Cryptoki) token written in Python."""

__version__ = "0.1.0"


from ._records import TYPE_CHECKING

if TYPE_CHECKING:
    from .api import open as open
else:
    def open(*args, **kwargs):
        """Open a token (strongroom.api.open): imported on first use, because the module's
        embedded interpreter imports this package at every C_Initialize. Type checkers
        see strongroom.api.open itself."""
        from strongroom.api import open as _open

        return _open(*args, **kwargs)
