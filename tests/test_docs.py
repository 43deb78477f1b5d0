"""The README and docs pages cannot rot: links and anchors resolve, commands parse, shown configs and imports work."""
import ast
import dataclasses
import glob
import importlib.util
import os
import re
import shlex
import sys

import pytest
import yaml

from hsi_wandb import resolve_settings, sync
from hsi_wandb.evaluation import find_checkpoints
from hsi_wandb.config import WandbConfig, key_table
import run
from conftest import FENCE, ROOT, blocks, read

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
sys.path.insert(0, os.path.join(ROOT, "docs"))
import benchmark  # noqa: E402
import eval_curve  # noqa: E402

PAGES = ["README.md", "benchmarks/README.md"] + sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
PLACEHOLDER = re.compile(r"<[^<>]+>")
SHELL_OPERATORS = {"|", "||", "&&", ";"}
PATH_ONLY_TOOLS = {"wandb", "grep"}


def prose(text):
    """``text`` without fenced blocks and inline code, where links are not links."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page):
    """Every anchor GitHub makes for the headings of ``page`` (a repeated heading gets -1, -2, ...)."""
    seen, found = {}, set()
    for line in FENCE.sub("", read(page)).splitlines():
        match = re.match(r"#{1,6} (.*)", line)
        if match:
            base = slug(match.group(1))
            found.add(base if base not in seen else "{}-{}".format(base, seen[base]))
            seen[base] = seen.get(base, 0) + 1
    return found


def links():
    """(page, target) of every relative link in the pages."""
    return [(page, target) for page in PAGES for target in LINK.findall(prose(read(page)))
            if not re.match(r"[a-z]+:", target)]


def test_anchors_follow_github():
    assert slug("Offline runs and `python -m hsi_wandb sync`") == "offline-runs-and-python--m-hsi_wandb-sync"
    assert slug("What appears on W&B") == "what-appears-on-wb"


@pytest.mark.parametrize("page,target", links(), ids=lambda value: value)
def test_every_relative_link_and_anchor_resolves(page, target):
    path, _, anchor = target.partition("#")
    resolved = os.path.normpath(os.path.join(ROOT, os.path.dirname(page), path)) if path else os.path.join(ROOT, page)
    assert os.path.exists(resolved), "{}: {} does not exist".format(page, path)
    if anchor:
        assert anchor in anchors(os.path.relpath(resolved, ROOT)), "{}: no heading for #{}".format(page, anchor)


def commands():
    """(page:line, words) of every command in the pages' bash blocks, continuations joined, comments dropped."""
    found = []
    for page in PAGES:
        for line_number, text in blocks(page, "bash"):
            for offset, line in enumerate(text.replace("\\\n", " ").splitlines()):
                words, command = shlex.split(line, comments=True), []
                for word in words + [";"]:
                    if word in SHELL_OPERATORS:
                        if command:
                            found.append(("{}:{}".format(page, line_number + 1 + offset), command))
                        command = []
                    elif command or not re.match(r"[A-Z_][A-Z0-9_]*=", word):
                        command.append(word)
    return found


def extras():
    """The extras setup.py declares."""
    call = next(node for node in ast.walk(ast.parse(read("setup.py"))) if isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "setup")
    return set(ast.literal_eval(next(k.value for k in call.keywords if k.arg == "extras_require")))


def check_paths(words):
    """A placeholder path lies under run.py's default output folder; a path into the repository exists."""
    default_output = run.parse_args([]).output_path
    for word in words:
        value = word.split("=", 1)[-1] if word.startswith("--") else word
        if PLACEHOLDER.search(value):
            assert value.startswith(default_output + "/"), "{}: run.py writes under {}/".format(value, default_output)
        elif re.match(r"[\w.-]+/[\w./-]*$", value) and not value.startswith(default_output + "/"):
            assert os.path.exists(os.path.join(ROOT, value)), "{} does not exist".format(value)


def check_run_py(words, tmp_path):
    """The line parses with run.py's parser and passes every check run.py makes before building anything; a
    checkpoint (placeholders made real) is one of the task it names."""
    os.symlink(os.path.join(ROOT, "cfg"), str(tmp_path / "cfg"))
    args = run.parse_args([PLACEHOLDER.sub("x", word) for word in words])
    if args.checkpoint and any(PLACEHOLDER.search(word) for word in words):
        made = (os.path.join(args.checkpoint, args.task + ".pth") if args.checkpoint.endswith("/")
                else args.checkpoint.replace("*", args.task, 1).replace("*", "01"))
        os.makedirs(os.path.dirname(made), exist_ok=True)
        open(made, "w").close()
    _, cfg_train, _ = run.load_configs(args)
    for checkpoint in find_checkpoints(args.checkpoint) if args.checkpoint else []:
        stem = re.sub(r"(_interrupt|_\d{8})?\.pth$", "", os.path.basename(checkpoint))
        assert stem == cfg_train["params"]["config"]["name"], "--checkpoint of another task than --task"


@pytest.mark.parametrize("where,words", commands(), ids=[where for where, _ in commands()])
def test_every_command_shown_is_checked(where, words, tmp_path, monkeypatch, capsys):
    check_paths(words)
    tool, rest = words[0], words[1:]
    if tool == "python" and rest[0] == "run.py":
        check_run_py(rest[1:], tmp_path)
    elif tool == "python" and rest[:3] == ["-m", "hsi_wandb", "sync"]:
        monkeypatch.chdir(tmp_path)
        assert sync.main([PLACEHOLDER.sub("x", word) for word in rest[2:]]) == 1, "parsed, then no such folder here"
        assert capsys.readouterr().err.rstrip().endswith(": not a folder")
    elif tool == "python" and rest[0] == "-m":
        assert importlib.util.find_spec(rest[1]) is not None, rest[1]
    elif tool == "python" and rest[0] == "docs/eval_curve.py":
        eval_curve.parse_args([PLACEHOLDER.sub("x", word) for word in rest[1:]])
    elif tool == "python" and rest[0] == "benchmarks/benchmark.py":
        monkeypatch.chdir(ROOT)
        benchmark.parse_args(rest[1:])
    elif tool == "pip" and rest[0] == "install":
        for word in rest:
            wanted = re.match(r"\.\[(.*)\]$", word)
            assert not wanted or set(wanted.group(1).split(",")) <= extras(), word
    else:
        assert tool in PATH_ONLY_TOOLS, "{}: no check for `{}`; add one to {}".format(where, tool, __file__)


def test_the_readme_configuration_is_valid_and_its_table_is_the_one_the_keys_declare():
    ((_, shown),) = blocks("README.md", "yaml")
    resolve_settings(yaml.safe_load(shown), "README.md")
    assert key_table() in read("README.md"), "regenerate README.md's table: python -c 'from hsi_wandb.config " \
                                             "import key_table; print(key_table())'"
    table = set(re.findall(r"^\| `(use_wandb|wandb\.\w+)` \|", read("README.md"), re.M))
    assert table == {"use_wandb"} | {"wandb." + f.name for f in dataclasses.fields(WandbConfig)}


@pytest.mark.parametrize("page", PAGES)
def test_python_examples_compile_and_their_imports_exist(page):
    for _, code in blocks(page, "python"):
        compile(code, page, "exec")
        for node in ast.parse(code).body:
            if isinstance(node, ast.ImportFrom):
                module = importlib.import_module(node.module)
                assert all(hasattr(module, alias.name) for alias in node.names), ast.dump(node)


def test_the_benchmark_writes_its_tables_between_the_markers_of_its_page(tmp_path):
    page = tmp_path / "README.md"
    page.write_text(read("benchmarks/README.md"), encoding="utf-8")
    assert benchmark.main(["--sections", "", "--write", str(page)]) == 0
    before, after = (text.split(benchmark.RESULTS_BEGIN) for text in (read("benchmarks/README.md"), page.read_text()))
    assert after[0] == before[0] and after[1].split(benchmark.RESULTS_END)[1] == before[1].split(
        benchmark.RESULTS_END)[1]
    assert "### Machine" in after[1] and "### 1. Training overhead" not in after[1]
