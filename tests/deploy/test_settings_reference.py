"""The configuration reference in README.md is generated from Settings; these tests fail when the two drift."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from worker import settings_doc
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_readme_reference_is_up_to_date():
    path = ROOT / "README.md"
    assert path.exists(), "README.md is missing (pyproject.toml names it as the package readme)"
    readme = path.read_text(encoding="utf-8")
    assert settings_doc.BEGIN in readme and settings_doc.END in readme, "README lacks the reference markers"
    assert settings_doc.replace_section(readme, settings_doc.render()) == readme, (
        "README configuration reference is out of date: run python -m worker.settings_doc --write"
    )


def test_every_setting_has_a_row_with_its_variable_and_description():
    table = settings_doc.render()
    rows = table.splitlines()[2:]
    assert len(rows) == len(Settings.model_fields)
    for row, (name, field) in zip(rows, Settings.model_fields.items()):
        assert row.startswith(f"| `NEWSWORKER_{name.upper()}` |")
        assert field.description, f"{name} has no description"
        assert field.description.replace("|", r"\|") in row


def test_secrets_show_no_default_value():
    rows = {row.split("|")[1].strip(" `"): row for row in settings_doc.render().splitlines()[2:]}
    assert rows["NEWSWORKER_SASL_PASSWORD"].split("|")[2:4] == [" secret, optional ", " unset "]


def test_check_detects_drift_and_write_repairs_it(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{settings_doc.BEGIN}\n{settings_doc.END}\n\nafter\n", encoding="utf-8")
    command = [sys.executable, "-m", "worker.settings_doc", "--readme", str(readme)]
    assert subprocess.run([*command, "--check"], capture_output=True).returncode == 1
    assert subprocess.run([*command, "--write"], capture_output=True).returncode == 0
    assert subprocess.run([*command, "--check"], capture_output=True).returncode == 0
    text = readme.read_text(encoding="utf-8")
    assert text.endswith("after\n") and "NEWSWORKER_BROKERS" in text
    readme.write_text(text.replace("Comma-separated bootstrap servers", "Bootstrap servers"), encoding="utf-8")
    assert subprocess.run([*command, "--check"], capture_output=True).returncode == 1
