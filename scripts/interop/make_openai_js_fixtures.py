"""Write the TypeScript Agents SDK's run states that tether's interop tests read.

    npm ci --prefix interop/js          # @openai/agents-core 0.20.0, pinned
    npm ci --prefix interop/js-0.18     # @openai/agents-core 0.18.0, pinned
    python scripts/interop/make_openai_js_fixtures.py [--out DIR]

Each state is made by the real package: ``interop/js/fixtures.mjs`` runs each
scenario on a scripted model and saves ``RunState.toString()``, pretty-printed.
0.20.0 writes schema 1.22; 0.18.0 writes the older schema 1.20. The files go
to ``tests/fixtures/openai_agents_js/`` unless ``--out`` says otherwise;
``tests/interop/test_openai_js_fixtures.py`` loads them, and checks that this
script still writes what is committed.

This script does not import tether: it only drives node.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "openai_agents_js"
PACKAGES = {
    "0.20.0": ROOT / "interop" / "js",
    "0.18.0": ROOT / "interop" / "js-0.18",
}


def make(out: Path) -> None:
    """Write every fixture into ``out``; raises ``SystemExit`` saying what is missing."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not installed; the fixtures are written by @openai/agents-core.")
    for version, package in PACKAGES.items():
        if not (package / "node_modules" / "@openai" / "agents-core").is_dir():
            relative = package.relative_to(ROOT)
            raise SystemExit(
                f"{relative} lacks @openai/agents-core {version}; run: npm ci --prefix {relative}"
            )
    out.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES.values():
        done = subprocess.run(
            [node, "make_fixtures.mjs", str(out.resolve())],
            cwd=package,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise SystemExit(f"{package.name}/make_fixtures.mjs failed:\n{done.stderr}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default: {OUT})")
    args = parser.parse_args(argv)
    make(args.out)
    print(f"wrote {len(list(args.out.glob('*.json')))} fixtures to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
