"""Print the package's size map: modules, lines, the largest modules, long functions, cycles.

    uv run python scripts/size_map.py [--functions N] [--top N]

A function's length is its code lines: without its docstring, blank lines and comment-only
lines (a long docstring is documentation, not a long function). Imports are counted wherever
they are written (inside functions too), as import-linter counts them; imports under
``if TYPE_CHECKING:`` are left out because they never run.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import grimp

PACKAGE = "tether"
SOURCE = Path(__file__).resolve().parent.parent / "src" / PACKAGE


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef, source: list[str]) -> int:
    """Lines of a function without its docstring, blank lines and comment-only lines."""
    skip: set[int] = set()
    body = node.body
    first_statement = body[0] if body else None
    if (
        isinstance(first_statement, ast.Expr)
        and isinstance(first_statement.value, ast.Constant)
        and isinstance(first_statement.value.value, str)
    ):
        end = first_statement.end_lineno or first_statement.lineno
        skip.update(range(first_statement.lineno, end + 1))
    first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
    return sum(
        1
        for number in range(first, (node.end_lineno or node.lineno) + 1)
        if number not in skip
        and source[number - 1].strip()
        and not source[number - 1].strip().startswith("#")
    )


def _long_functions(path: Path, limit: int) -> list[tuple[str, int]]:
    text = path.read_text(encoding="utf-8")
    source = text.splitlines()
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = _code_lines(node, source)
            if length > limit:
                found.append((f"{_module_name(path)}:{node.name}", length))
    return found


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def _private_reaches(graph: grimp.ImportGraph) -> int:
    """Imports of a private module (``_name``) from outside the package that holds it."""
    count = 0
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            parts = imported.split(".")
            private_at = [i for i, part in enumerate(parts) if part.startswith("_")]
            if not private_at:
                continue
            owner = ".".join(parts[: private_at[0]])
            if not (importer == owner or importer.startswith(owner + ".")):
                count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--functions", type=int, default=60, help="report functions longer than this"
    )
    parser.add_argument(
        "--top", type=int, default=8, help="how many of the largest modules to list"
    )
    args = parser.parse_args()

    files = sorted(SOURCE.rglob("*.py"))
    sizes = sorted(
        (
            (len(path.read_text(encoding="utf-8").splitlines()), _module_name(path))
            for path in files
        ),
        reverse=True,
    )
    long = sorted(
        (entry for path in files for entry in _long_functions(path, args.functions)),
        key=lambda entry: -entry[1],
    )
    graph = grimp.build_graph(PACKAGE, exclude_type_checking_imports=True, cache_dir=None)
    found = cycles(graph)
    print(f"modules: {len(files)}")
    print(f"lines: {sum(size for size, _ in sizes)}")
    print("largest modules:")
    for size, name in sizes[: args.top]:
        print(f"  {size:5d}  {name}")
    print(f"functions over {args.functions} lines: {len(long)}")
    for name, length in long:
        print(f"  {length:5d}  {name}")
    print(f"import cycles: {len(found)}")
    for component in found:
        print(f"  {len(component)} modules: {', '.join(component)}")
    print(f"imports of another package's private module: {_private_reaches(graph)}")


if __name__ == "__main__":
    main()
