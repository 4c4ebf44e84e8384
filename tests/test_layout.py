"""The package layout shows the pipeline, and the import rules that keep it so are enforced:
the contracts in pyproject.toml ([tool.importlinter]) run here with import-linter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
MAX_LINES = 400
DATA_MODULE_MARK = "data module"


def lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_import_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_import_contracts_catch_violations(tmp_path: Path) -> None:
    """A copy of the package with three bad imports breaks the three rules they break."""
    shutil.copytree(ROOT / "qa", tmp_path / "qa", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / "qa" / "ingest" / "spans.py").open("a") as handle:
        handle.write("\nimport fastapi  # noqa\n")  # a framework in the core
    with (tmp_path / "qa" / "ingest" / "documents.py").open("a") as handle:
        handle.write("\nimport qa.retrieval.fusion  # noqa\n")  # ingest reaching downstream
    with (tmp_path / "qa" / "indexing" / "bm25.py").open("a") as handle:
        handle.write("\nimport qa.serving.views  # noqa\n")  # an upward import: a cycle between stages
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = lint_imports(tmp_path, env)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "Only the adapters import web and terminal frameworks BROKEN" in out
    assert "Ingest reads documents and knows nothing downstream BROKEN" in out
    assert "No import cycles between sub-packages BROKEN" in out
    assert "qa.ingest.spans -> fastapi" in out


def test_no_module_is_too_big() -> None:
    """Small modules named for what they hold; a data-only module says so in its first line."""
    too_big = []
    for path in sorted((ROOT / "qa").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > MAX_LINES and DATA_MODULE_MARK not in (lines[0] if lines else ""):
            too_big.append(f"{path.relative_to(ROOT)}: {len(lines)} lines")
    assert not too_big, too_big


def test_stages_are_sub_packages() -> None:
    stages = {p.name for p in (ROOT / "qa").iterdir() if (p / "__init__.py").is_file()}
    assert {"ingest", "indexing", "retrieval", "evaluation", "serving", "api", "cli"} <= stages
    flat = sorted(p.name for p in (ROOT / "qa").glob("*.py"))
    assert flat == ["__init__.py", "errors.py", "keys.py", "settings.py", "stats.py", "text.py"]
