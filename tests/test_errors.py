"""The exception tree drawn in ``tether.errors``' docstring is the tree the code defines."""

from __future__ import annotations

import re

from tether import errors


def _drawn() -> dict[str, str]:
    """Each error drawn in the docstring, to the error drawn as its parent."""
    doc = errors.__doc__ or ""
    parents: dict[str, str] = {}
    stack: list[str] = ["TetherError"]
    for line in doc.splitlines():
        found = re.search(r"[├└]── (\w+)", line)
        if found is None:
            continue
        depth = (found.start() - 4) // 4 + 1  # the tree is drawn four columns in
        del stack[depth:]
        parents[found.group(1)] = stack[-1]
        stack.append(found.group(1))
    return parents


def test_the_drawn_tree_is_the_class_tree() -> None:
    drawn = _drawn()
    defined = {name for name in errors.__all__ if name != "TetherError"}
    assert set(drawn) == defined
    for name, parent in drawn.items():
        assert getattr(errors, parent) in getattr(errors, name).__bases__, (name, parent)
