"""The store's error hierarchy.

Every failure a caller can cause or meet is one of these classes, and each class
carries the stable code word that the gRPC adapter puts in front of its message.
Callers of the library catch :class:`StoreError` (or a subclass) and never need
to know about psycopg's exceptions.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of all store errors; ``code`` is the stable word callers match on."""

    code = "INTERNAL"


class InvalidArgument(StoreError):
    """The request itself is wrong: nothing was read or written."""

    code = "INVALID_ARGUMENT"


class NotFound(StoreError):
    """The addressed document does not exist (for this tenant)."""

    code = "NOT_FOUND"


class AlreadyExists(StoreError):
    """A document with that id already exists in the collection."""

    code = "ALREADY_EXISTS"


class Conflict(StoreError):
    """An optimistic-concurrency check failed: the stored version differs."""

    code = "CONFLICT"


class Unavailable(StoreError):
    """The database cannot be reached or timed out; retrying later may succeed."""

    code = "UNAVAILABLE"


class Unimplemented(StoreError):
    """The request asks for a feature this store does not provide (yet)."""

    code = "UNIMPLEMENTED"
