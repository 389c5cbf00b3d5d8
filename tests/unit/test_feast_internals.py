"""The door to Feast's private names: each one still there, and no other module using one.

``feast_pinot.feast_internals`` wraps every private Feast callable the product
uses and lists it with the parameters its wrapper passes by name. A Feast
release that renames, removes or reshapes one fails here, naming it.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from feast_pinot.feast_internals import offline, online, push
from feast_pinot.feast_internals.table import Internal

ROOT = Path(__file__).resolve().parents[2]
DOOR = ROOT / "feast_pinot" / "feast_internals"
INTERNALS = online.INTERNALS + offline.INTERNALS + push.INTERNALS


@pytest.mark.parametrize("internal", INTERNALS, ids=lambda i: i.name)
def test_every_wrapped_private_name_exists_with_the_parameters_passed(internal: Internal) -> None:
    found = getattr(internal.owner, internal.name, None)
    assert callable(found), f"Feast no longer has {internal.owner!r}.{internal.name}"
    parameters = tuple(inspect.signature(found).parameters)
    missing = [p for p in internal.parameters if p not in parameters]
    assert not missing, f"{internal.name} no longer takes {missing}; it takes {parameters}"


def _private_names_defined_here() -> set[str]:
    """Every ``_name`` the product defines: functions, classes, attributes it assigns."""
    names: set[str] = set()
    for path in [*ROOT.joinpath("feast_pinot").rglob("*.py"), *ROOT.joinpath("stream_ingest").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def _feast_names(tree: ast.AST) -> set[str]:
    """Names a module binds to something imported from Feast."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("feast")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "feast":
            names |= {a.asname or a.name for a in node.names}
    return names


def _receivers(tree: ast.AST, feast: set[str]) -> dict[ast.Attribute, str]:
    """Each attribute access on a Feast name, or on self/cls in a class derived from one."""
    found: dict[ast.Attribute, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in feast:
            found[node] = node.value.id
        if isinstance(node, ast.ClassDef):
            bases = {b.id if isinstance(b, ast.Name) else getattr(b.value, "id", "") for b in node.bases
                     if isinstance(b, (ast.Name, ast.Subscript))}
            if bases & feast:
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name) \
                            and inner.value.id in ("self", "cls", "super"):
                        found[inner] = inner.value.id
            for inner in ast.walk(node):  # super()._name in any class
                if isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Call) \
                        and getattr(inner.value.func, "id", "") == "super" and bases & feast:
                    found[inner] = "super()"
    return found


def _foreign_private_uses(path: Path, ours: set[str]) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("feast"):
            found += [f"from {node.module} import {a.name}" for a in node.names if a.name.startswith("_")]
    for node, receiver in _receivers(tree, _feast_names(tree)).items():
        private = node.attr.startswith("_") and not node.attr.startswith("__")
        if private and not (receiver in ("self", "cls") and node.attr in ours):
            found.append(f"line {node.lineno}: {receiver}.{node.attr}")
    return sorted(found)


def test_no_module_outside_the_door_uses_a_private_name_of_feast() -> None:
    ours = _private_names_defined_here()
    offenders = {}
    for package in ("feast_pinot", "stream_ingest"):
        for path in sorted(ROOT.joinpath(package).rglob("*.py")):
            if DOOR in path.parents:
                continue
            uses = _foreign_private_uses(path, ours)
            if uses:
                offenders[str(path.relative_to(ROOT))] = uses
    assert offenders == {}


def test_the_scan_sees_a_private_feast_name(tmp_path: Path) -> None:
    module = tmp_path / "uses_feast.py"
    module.write_text("from feast import utils\nfrom feast.utils import _hidden\nutils._get_unique_entities(1, 2, 3)\n")
    assert _foreign_private_uses(module, set()) == [
        "from feast.utils import _hidden", "line 3: utils._get_unique_entities"]


def test_the_scan_sees_an_inherited_private_feast_attribute(tmp_path: Path) -> None:
    module = tmp_path / "inherits.py"
    module.write_text("from feast.online_response import OnlineResponse\n"
                      "class Mine(OnlineResponse):\n    def f(self):\n        return self._feature_types, self._mine\n")
    assert _foreign_private_uses(module, {"_mine"}) == ["line 4: self._feature_types"]
