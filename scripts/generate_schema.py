"""Write docs/run-state.schema.json from the code (tests check the file is current)."""

from __future__ import annotations

import json
import pathlib

from tether.journal._document import json_schema

TARGET = pathlib.Path(__file__).resolve().parent.parent / "docs" / "run-state.schema.json"


def render() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET.name}")
