"""The three layers stay apart, as docs/layout.md draws them: the core imports neither the rl_games adapter, nor
rl_games, nor the built-in runner; the adapter imports no runner code; the page lists every module there is."""
import ast
import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "hsi_wandb")
ENTRY = {"__init__.py", "__main__.py", "rl_games_mixin.py"}
"""The package's front door and the old adapter import path: they name the adapter on purpose."""


def imported(path):
    """Every module ``path`` imports, anywhere in it, as an absolute dotted name."""
    folder = os.path.relpath(os.path.dirname(path), PACKAGE)
    package = ["hsi_wandb"] + ([] if folder == os.curdir else folder.split(os.sep))
    names = []
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names += [module] + [module + "." + alias.name for alias in node.names]
    return names


def modules(layer_glob):
    return sorted(glob.glob(os.path.join(PACKAGE, layer_glob)))


CORE = [p for p in modules("*.py") if os.path.basename(p) not in ENTRY]


@pytest.mark.parametrize("path", CORE, ids=os.path.basename)
def test_the_core_imports_neither_the_adapter_nor_rl_games_nor_the_runner(path):
    bad = [name for name in imported(path) if re.match(r"(hsi_wandb\.(adapter|builtin)|rl_games)(\.|$)", name)]
    assert not bad, bad


@pytest.mark.parametrize("path", modules("adapter/*.py"), ids=os.path.basename)
def test_the_adapter_imports_no_runner_code(path):
    assert not [name for name in imported(path) if name.startswith("hsi_wandb.builtin")]


def test_the_layout_page_lists_every_module_of_the_core_and_the_adapter():
    page = open(os.path.join(ROOT, "docs", "layout.md")).read()
    listed = set(re.findall(r"`(hsi_wandb/[\w/]+\.py)`", page))
    present = {os.path.relpath(p, ROOT) for p in modules("*.py") + modules("adapter/*.py")
               if os.path.basename(p) != "__init__.py"}
    assert present - listed == set() and listed - present == set()
