# Sourced by scripts/test and scripts/demo: makes `uv` available and the project synced.
# Needs only python3 (with pip or venv); everything else is installed from PyPI.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if ! command -v uv >/dev/null 2>&1; then
  if [ ! -x "$ROOT/.tools/bin/uv" ]; then
    echo "Installing uv into .tools/ ..." >&2
    python3 -m venv "$ROOT/.tools"
    "$ROOT/.tools/bin/python" -m pip install --quiet --upgrade pip uv
  fi
  export PATH="$ROOT/.tools/bin:$PATH"
fi
