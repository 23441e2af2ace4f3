"""strongroom: a PKCS#11 (Cryptoki) token written in Python."""

__version__ = "0.1.0"
