"""The errors a user acts on. Each message is one line that says what to do.

Only :class:`DataError` refuses a single file and lets an ingestion go on:
it means the file's content cannot be loaded. Anything else raised while
loading is a fault in the workbench and stops the run.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """A problem the user can fix; its message is one line."""


class DataError(WorkbenchError, ValueError):
    """A file's content cannot be loaded: the file is refused, the others go on.

    The message names the file, and the row and column where known, never a
    row's content (which may hold personal data).
    """


class SaltMismatch(WorkbenchError):
    """The warehouse holds hashes made with another salt; mixing them would split persons."""


class WarehouseLocked(WorkbenchError):
    """Another process holds the warehouse file open for writing."""


class WarehouseIncomplete(WorkbenchError):
    """The last ingestion did not finish, so the warehouse has no persons to report on."""


class ParameterError(WorkbenchError, ValueError):
    """A notebook parameter is unknown or has a value it does not accept."""
