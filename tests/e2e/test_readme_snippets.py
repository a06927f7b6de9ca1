"""The README's code blocks, run as a reader would run them, against a sandbox started for the test.

A fenced block is run when the line before its fence is a marker:

    <!-- test: run -->                    a script (python or js): exits 0 and prints what its `prints:` comments say
    <!-- test: run alipay-sdk-python -->  the same, in the official Alipay SDK's own virtualenv
    <!-- test: pytest -->                 a pytest test file: its tests pass

Every ```python block in the README carries one (a new snippet cannot go untested unnoticed). The snippets name the
default address, http://127.0.0.1:8080; the test puts the test sandbox's URL in its place, in the code and in what
it expects. A comment `# prints: TEXT` (`// prints: TEXT` in JavaScript) says the script prints a line that is
exactly TEXT, `…` standing for any run of characters; those lines must come in the order written.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
NODE_DIR = ROOT / "tests" / "node"
DEFAULT_URL = "http://127.0.0.1:8080"
MARKER = re.compile(r"<!-- test: (run|pytest)(?: ([\w-]+))? -->")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
PRINTS = re.compile(r"(?:#|//) prints: (.+)$", re.M)
pytestmark = pytest.mark.e2e


@dataclass
class Block:
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    mode: str | None  # run, pytest, or None for an unmarked block
    env: str | None

    @property
    def name(self) -> str:
        first = self.code.splitlines()[0].lstrip("#/ ").split(":")[0].split(" (")[0].split(".")[0]
        return f"README.md:{self.line} {first}".strip()


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    blocks = []
    for fence in FENCE.finditer(text):
        before = text[:fence.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.fullmatch(before.strip())
        blocks.append(Block(text.count("\n", 0, fence.start()) + 1, fence.group(1), fence.group(2),
                            marker and marker.group(1), marker and marker.group(2)))
    return blocks


BLOCKS = [block for block in readme_blocks() if block.mode]


def expected_lines(code: str) -> list[str]:
    return PRINTS.findall(code)


def assert_prints(block: Block, stdout: str, url: str) -> None:
    """Each `prints:` line matches a whole output line, in order; `…` is a wildcard."""
    lines = stdout.splitlines()
    expected = expected_lines(block.code)
    assert expected, f"{block.name} says nothing about what it prints"
    at = 0
    for text in expected:
        pattern = re.compile(".*".join(re.escape(part) for part in text.replace(DEFAULT_URL, url).split("…")))
        while at < len(lines) and not pattern.fullmatch(lines[at]):
            at += 1
        assert at < len(lines), f"{block.name}: no line {text!r} (in order) in the output:\n{stdout}"
        at += 1


def official_alipay_python() -> Path:
    path = ROOT / "tests" / "wire" / "alipay_official_venv.py"
    spec = importlib.util.spec_from_file_location("alipay_official_venv", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.venv_python()


def clean_env() -> dict[str, str]:
    """No PYTHON* variables: the official SDK's venv must not see this interpreter's packages (and its `alipay`)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def run_block(block: Block, url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    code = block.code.replace(DEFAULT_URL, url)
    if block.mode == "pytest":
        test_file = tmp_path / "test_readme_example.py"
        test_file.write_text(code, encoding="utf-8")
        # the plugin is found through its entry point, as in a user's project; -p no:cacheprovider keeps tmp clean
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)
    if block.language == "python":
        python = official_alipay_python() if block.env == "alipay-sdk-python" else Path(sys.executable)
        script = tmp_path / "snippet.py"
        script.write_text(code, encoding="utf-8")
        env = clean_env() if block.env else os.environ.copy()
        return subprocess.run([str(python), str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300)
    if block.language == "js":
        # an ES module read from stdin resolves its imports from the working directory: tests/node/node_modules
        return subprocess.run(["node", "--input-type=module"], input=code, cwd=NODE_DIR, capture_output=True,
                              text=True, timeout=120)
    raise AssertionError(f"{block.name}: no way to run a {block.language!r} block")


def test_every_python_block_of_the_readme_is_marked_for_this_test():
    unmarked = [block.name for block in readme_blocks() if block.language == "python" and not block.mode]
    assert not unmarked, f"mark these blocks with <!-- test: run --> or <!-- test: pytest -->: {unmarked}"
    assert {block.language for block in BLOCKS} >= {"python", "js"}


def node_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_DIR / "node_modules").is_dir():
        return "tests/node/node_modules is missing: run `npm ci --prefix tests/node --no-audit --no-fund`"
    return None


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.name)
def test_readme_block_runs_and_prints_what_it_says(block, sandbox, tmp_path):
    if block.language == "js" and (reason := node_missing()):
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"CI must run the README's Node.js snippets: {reason}", pytrace=False)
        pytest.skip(reason)
    result = run_block(block, sandbox.url, tmp_path)
    assert result.returncode == 0, f"{block.name} failed:\n{result.stdout}\n{result.stderr}"
    if block.mode == "run":
        assert_prints(block, result.stdout, sandbox.url)
        # and it did reach this sandbox: every out_trade_no it names is there
        for out_trade_no in set(re.findall(r"\bREADME-[\w-]+\b", block.code)):
            assert sandbox.admin.payments(out_trade_no=out_trade_no)["total"] == 1, (block.name, out_trade_no)
    else:
        assert re.search(r"\b\d+ passed\b", result.stdout) and "failed" not in result.stdout, result.stdout
