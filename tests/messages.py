"""Small protobuf builders the gRPC tests share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import any_pb2, struct_pb2, wrappers_pb2


def struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    """A ``google.protobuf.Struct`` holding ``data``."""
    message = struct_pb2.Struct()
    message.update(data)
    return message


def packed(value: str) -> any_pb2.Any:
    """A string filter value, packed as the contract's ``Any`` (a ``StringValue``)."""
    message = any_pb2.Any()
    message.Pack(wrappers_pb2.StringValue(value=value))
    return message
