"""The layers of ARCHITECTURE.md hold: no module imports from a layer above its own (lazy imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "auditkit"

# from the ground up: data -> normalizers and classifiers (with the metrics and statistics they share) -> protocol
# -> report -> the notebook API and the CLI; errors, files, native (C builds), provenance, process state and the
# plugin registry sit under everything
LAYERS = {
    "auditkit": 0, "auditkit.errors": 0, "auditkit.files": 0, "auditkit.native": 0, "auditkit.provenance": 0,
    "auditkit.process_state": 0,
    "auditkit.plugins": 1, "auditkit.contract": 1, "auditkit.testing": 1, "auditkit.data": 1,
    "auditkit.normalizers": 2, "auditkit.classifiers": 2, "auditkit.stats": 2,
    "auditkit.protocol": 3, "auditkit.layers": 3,
    "auditkit.report": 4,
    "auditkit.api": 5, "auditkit.cli": 5, "auditkit.__main__": 5,
}


def layer_of(module: str) -> int:
    """The layer of a module: that of its longest listed prefix."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in LAYERS:
            return LAYERS[".".join(parts[:i])]
    raise KeyError(f"{module} is in no layer: add it to LAYERS here and to ARCHITECTURE.md")


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every auditkit import in a file, at any depth (functions' lazy imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("auditkit"):
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("auditkit")]
    return found


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def test_no_import_runs_back_up_the_layers() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = layer_of(module_name(path))
        upward += [f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
                   for line, target in imports_of(path) if layer_of(target) > own]
    assert not upward, "imports that run back up the layers:\n" + "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from auditkit.report.render import build_report\n")
    assert imports_of(path) == [(2, "auditkit.report.render")]
    assert layer_of("auditkit.report.render") > layer_of("auditkit.data.dataset")
    with pytest.raises(KeyError, match="in no layer"):
        layer_of("elsewhere.module")


def test_the_statistics_import_no_normalizer_protocol_or_report() -> None:
    """auditkit.stats is pure statistics: the same layer as the normalizers, but it needs none of them."""
    banned = ("auditkit.normalizers", "auditkit.classifiers", "auditkit.protocol", "auditkit.report", "auditkit.data")
    found = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
             for path in sorted((PACKAGE / "stats").rglob("*.py"))
             for line, target in imports_of(path) if target.startswith(banned)]
    assert not found, "\n".join(found)


def test_architecture_md_stands_alone_and_walks_every_protocol_module() -> None:
    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text()
    assert "../shared" not in text and "DESIGN.md" not in text  # no map outside the repository
    walk = text[text.index("## One audit, from the command to the report"):text.index("## The pipeline")]
    modules = sorted(p.stem for p in (PACKAGE / "protocol").glob("*.py") if p.stem != "__init__")
    missing = [m for m in modules if f"protocol/{m}.py" not in walk and f"protocol/{m}." not in walk]
    assert not missing, f"ARCHITECTURE.md's walk does not say where these protocol modules come in: {missing}"
