"""The committed stubs are what `make stubs` generates from protos/ today."""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATED = (
    "persistence_platform_pb2.py",
    "persistence_platform_pb2.pyi",
    "persistence_platform_pb2_grpc.py",
    "persistence_platform_pb2_grpc.pyi",
)


def test_committed_stubs_are_fresh(tmp_path: Path) -> None:
    subprocess.run(["make", "-s", "stubs", f"STUBS_OUT={tmp_path}"], cwd=ROOT, check=True, capture_output=True)
    stale = [name for name in GENERATED if not filecmp.cmp(ROOT / "stubs" / name, tmp_path / name, shallow=False)]
    assert not stale, f"stubs/ is out of date with protos/ for {stale}: run `make stubs`"


def test_project_contract_compiles_to_the_original_descriptor(tmp_path: Path) -> None:
    """Same messages, fields, numbers and RPCs as the original: only comments may differ."""
    from grpc_tools import protoc

    include = Path(protoc.__file__).parent / "_proto"
    outputs = []
    for source in (ROOT / "protos", ROOT.parent / "shared" / "contract"):
        out = tmp_path / (source.name + ".pb")
        args = ["protoc", f"-I{source}", f"-I{include}", f"--descriptor_set_out={out}", "persistence_platform.proto"]
        assert protoc.main(args) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
