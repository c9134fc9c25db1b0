"""docs/architecture.md is the map of the code: every module is on it, and the layout's
import rules (its contracts in pyproject.toml) are the ones `lint-imports` checks."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAP = ROOT / "docs" / "architecture.md"


def _modules() -> list[str]:
    found = []
    for package in ("gateway", "carrier_adapters"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if path.name in ("__init__.py", "__main__.py") or "/_bundled/" in relative:
                continue
            found.append(relative)
    return found


def _named(module: str, lines: list[str]) -> bool:
    """Whether a line of the map names `module`: by its path, or by its folder's path and
    its file name on the same line (a table row for a package)."""
    folder, name = module.rsplit("/", 1)
    return any(module in line or (f"{folder}/" in line and re.search(
        rf"(?<![\w/]){re.escape(name)}\b", line)) for line in lines)


def test_every_module_is_on_the_map():
    lines = MAP.read_text().splitlines()
    missing = [module for module in _modules() if not _named(module, lines)]
    assert not missing, (
        "docs/architecture.md does not name these modules (add each to the Modules table): "
        + ", ".join(missing))


def test_a_module_missing_from_the_map_is_noticed():
    lines = ["| `gateway/channels/sms/` | `commands.py`, `render.py` |",
             "| `gateway/server/webhooks.py` | the webhooks |"]
    assert _named("gateway/channels/sms/render.py", lines)
    assert _named("gateway/server/webhooks.py", lines)
    assert not _named("gateway/channels/sms/cost.py", lines)
    assert not _named("gateway/server/health.py", lines)
    # a file name alone, without its folder on the line, does not count
    assert not _named("gateway/ops/charts.py", ["`charts.py` draws the charts"])


def test_the_map_states_the_contracts_lint_imports_checks():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())[
        "tool"]["importlinter"]["contracts"]
    text = MAP.read_text()
    for contract in contracts:
        assert contract["name"] in text, (
            f"docs/architecture.md does not state the contract {contract['name']!r}")


def test_the_environment_is_read_in_one_place():
    reads = re.compile(r"os\.environ(?!\.setdefault)|os\.getenv")
    readers = [path.relative_to(ROOT).as_posix()
               for package in ("gateway", "carrier_adapters")
               for path in (ROOT / package).rglob("*.py")
               if path.name != "environment.py" and reads.search(path.read_text())]
    assert not readers, f"read the environment through gateway/environment.py: {readers}"


def test_every_environment_setting_is_documented():
    from gateway.environment import SETTINGS

    docs = "\n".join(path.read_text() for path in [ROOT / "README.md",
                                                   *sorted((ROOT / "docs").glob("*.md"))])
    undocumented = [name for name in SETTINGS if name not in docs]
    assert not undocumented, f"not in README.md or docs/: {undocumented}"


def test_the_sms_text_rules_load_neither_flask_nor_a_carriers_sdk():
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, gateway.sms_text; print(' '.join(sys.modules))"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    heavy = sorted({name.split(".")[0] for name in loaded} & {"flask", "twilio", "requests",
                                                              "werkzeug", "gunicorn"})
    assert not heavy, f"import gateway.sms_text loads {heavy}"
