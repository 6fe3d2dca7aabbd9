"""The layering, checked on the source (AST, no imports): who may import whom.

- `vocabulary` imports nothing; `theory` (symbolic) never imports JAX, `sims` or `claims`; `sims`
  (numerical) never imports sympy, `theory` or `claims`; only the claim layer pairs them.
- No module imports another package's private modules (`from sims import _engine`,
  `sims._results.x`): each package exports what others use.
- No `sys.path` edits: scripts and tests import the installed packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vocabulary", "theory", "sims", "claims")
FORBIDDEN = {
    "vocabulary": {"theory", "sims", "claims", "jax", "sympy", "numpy"},
    "theory": {"sims", "claims", "jax", "jaxlib", "flax", "optax"},
    "sims": {"theory", "claims", "sympy"},
}


def sources(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (ROOT / f).rglob("*.py"))


def owner(path: Path) -> str:
    """The top-level package (or folder) a source file belongs to."""
    return path.relative_to(ROOT).parts[0]


def imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted name) of every absolute import, `from a import b` giving both a and a.b."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def aliases(tree: ast.AST) -> dict[str, str]:
    """Local names bound by imports to modules or objects of the packages (`cp` -> `claims.powerlaw`)."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update({a.asname: a.name for a in node.names if a.asname})
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
    return out


def attribute_chains(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted name) of attribute chains such as `sims._results.load_cell`, with import aliases
    expanded (`cp._x` after `import claims.powerlaw as cp` is `claims.powerlaw._x`)."""
    names = aliases(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            parts, cur = [node.attr], node.value
            while isinstance(cur, ast.Attribute):
                parts.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name):
                out.append((node.lineno, ".".join([names.get(cur.id, cur.id), *reversed(parts)])))
    return out


def private_of_other_package(name: str, me: str) -> bool:
    parts = name.split(".")
    if parts[0] not in PACKAGES or parts[0] == me:
        return False
    return any(p.startswith("_") and not p.startswith("__") for p in parts[1:])


ALL = sources(*PACKAGES, "scripts", "tests")


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_module_of_another_package(path):
    tree = ast.parse(path.read_text(), str(path))
    me = owner(path)
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for line, name in imported(tree) + attribute_chains(tree)
        if private_of_other_package(name, me)
    ]
    assert not bad, "imports a private module of another package:\n" + "\n".join(bad)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layering(package):
    bad = []
    for path in sources(package):
        for line, name in imported(ast.parse(path.read_text(), str(path))):
            if name.split(".")[0] in FORBIDDEN[package]:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert not bad, f"{package} must not import {sorted(FORBIDDEN[package])}:\n" + "\n".join(bad)


def test_vocabulary_is_shared_not_copied():
    """Both sides use the one list of names (no copy typed again on either side)."""
    import vocabulary

    pattern = ("TASK_NAMES =", "LATENT_NAMES =", "ACTIVATION_NAMES =", "START_NAMES =", "PLACEMENT_NAMES =")
    bad = [
        f"{p.relative_to(ROOT)}: {line.strip()}"
        for p in sources("theory", "sims", "claims")
        for line in p.read_text().splitlines()
        if line.startswith(pattern)
    ]
    assert not bad, "\n".join(bad)
    import sims
    import theory

    assert sims.TASK_NAMES is vocabulary.TASK_NAMES and theory.TASK_NAMES is vocabulary.TASK_NAMES
    assert sims.ACTIVATION_NAMES is vocabulary.ACTIVATION_NAMES


@pytest.mark.parametrize("path", sources("scripts", "tests"), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_sys_path_edits(path):
    chains = {name for _, name in attribute_chains(ast.parse(path.read_text(), str(path)))}
    assert not {"sys.path.insert", "sys.path.append"} & chains


@pytest.mark.parametrize("path", sources("scripts"), ids=lambda p: p.name)
def test_scripts_are_thin_wrappers(path):
    """Each script only calls a command's `main` (the code lives in `claims.cli`)."""
    tree = ast.parse(path.read_text())
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    assert not functions and len(path.read_text().splitlines()) <= 20


@pytest.mark.parametrize("package", ["vocabulary", "theory", "sims", "claims"])
def test_long_functions_say_why(package):
    """No function over 60 lines of code (its docstring not counted) without a reason in its
    docstring ("Long because ...")."""
    bad = []
    for path in sources(package):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    length -= first.end_lineno - first.lineno + 1  # the docstring does not count
                if length > 60 and "Long because" not in (ast.get_docstring(node) or ""):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.name} ({length} lines)")
    assert not bad, "split these, or say why they are long:\n" + "\n".join(bad)
