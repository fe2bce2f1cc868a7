"""The ORIGINAL contract's messages and service, generated at run time as callers compiled them.

The tests use it too (``tests/conftest.py``). ``grpc_tools.protoc`` turns
``../shared/contract/persistence_platform.proto`` into Python in a temporary
directory. Where that file is missing, the project's ``stubs`` package (same
wire format) stands in.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
ORIGINAL_CONTRACT = ROOT.parent / "shared" / "contract" / "persistence_platform.proto"
SERVICE = "unhinged.persistence.PersistencePlatformService"


def generate(out: Path) -> Path | None:
    """Generate the original contract's code into ``out``; None when the file is not there."""
    if not ORIGINAL_CONTRACT.exists():
        return None
    from grpc_tools import protoc  # type: ignore[import-untyped]

    include = Path(protoc.__file__).parent / "_proto"
    out.mkdir(parents=True, exist_ok=True)
    status = protoc.main(
        [
            "protoc",
            f"-I{ORIGINAL_CONTRACT.parent}",
            f"-I{include}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            ORIGINAL_CONTRACT.name,
        ]
    )
    if status != 0:
        raise SystemExit(f"bench: protoc failed on {ORIGINAL_CONTRACT}")
    return out


def load(generated: Path | None) -> tuple[ModuleType, ModuleType]:
    """(messages, grpc) modules: the generated ones, else the project's stubs."""
    if generated is None:
        from stubs import persistence_platform_pb2, persistence_platform_pb2_grpc

        return persistence_platform_pb2, persistence_platform_pb2_grpc
    if str(generated) not in sys.path:
        sys.path.insert(0, str(generated))
    return importlib.import_module("persistence_platform_pb2"), importlib.import_module("persistence_platform_pb2_grpc")


def method_path(name: str) -> str:
    return f"/{SERVICE}/{name}"
