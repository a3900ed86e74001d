"""Platform exports: recognise each file's format and encoding from its header.

Public functions:
    inventory: every file under a raw directory with its platform, format, encoding, rows.
    detect_format, detect_encoding: for one file.
"""

from workbench.sources.detect import (
    SIGNATURES,
    Signature,
    detect_encoding,
    detect_format,
    inventory,
)

__all__ = ["SIGNATURES", "Signature", "detect_encoding", "detect_format", "inventory"]
