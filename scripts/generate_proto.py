"""Regenerate otelpriv's gRPC code from proto/ with grpcio-tools.

The generated modules are committed, so installing otelpriv needs no protoc; a test runs this
script into a temporary folder and fails when the committed copy is stale. protoc names imports
after the proto package (``from otelpriv.v1 import ...``), which would resolve against the
otelpriv package itself; they are rewritten to the package the code lives in,
``otelpriv._gen.otelpriv.v1``.

Usage: python scripts/generate_proto.py [--out FOLDER]   (default: otelpriv/_gen)
"""

from __future__ import annotations

import argparse
import importlib.resources
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
DEFAULT_OUT = ROOT / "otelpriv" / "_gen"
PACKAGE = "otelpriv._gen"
_OWN_IMPORT = re.compile(r"^(from|import) otelpriv\.(?!_gen\b)", re.MULTILINE)
_INIT = '"""Code generated from proto/ by scripts/generate_proto.py; do not edit."""\n'


def generate(out: Path) -> list[Path]:
    """Write the generated modules under ``out``; returns every file written."""
    protos = sorted(PROTO_ROOT.rglob("*.proto"))
    well_known = importlib.resources.files("grpc_tools") / "_proto"
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.rglob("*_pb2*.py*"):
        stale.unlink()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"--proto_path={PROTO_ROOT}",
            f"--proto_path={well_known}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            *(str(proto.relative_to(PROTO_ROOT)) for proto in protos),
        ],
        check=True,
        cwd=PROTO_ROOT,
    )
    written = []
    for module in sorted(out.rglob("*_pb2*.py*")):
        text = module.read_text(encoding="utf-8")
        module.write_text(_OWN_IMPORT.sub(rf"\1 {PACKAGE}.otelpriv.", text), encoding="utf-8")
        written.append(module)
    for folder in sorted({module.parent for module in written} | {out}):
        while True:
            init = folder / "__init__.py"
            init.write_text(_INIT, encoding="utf-8")
            written.append(init)
            if folder == out:
                break
            folder = folder.parent
    return sorted(set(written))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    arguments = parser.parse_args()
    for path in generate(arguments.out):
        print(path.relative_to(arguments.out))


if __name__ == "__main__":
    main()
