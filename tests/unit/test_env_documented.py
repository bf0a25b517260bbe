"""The README's settings tables name every environment variable the code reads, and no
variable the code does not read (issue 19: seven were missing, among them the worker's
and gunicorn's).

What the code reads is found two ways: every ``Settings`` field is read as
``CPT_LTI_<FIELD>`` (settings.load_settings), and every other variable is named by a
``"CPT_LTI_..."`` string literal in lti_tool/ or config/. A README row names a variable
in its first cell; ``CPT_LTI_XAPI_ENDPOINT`` / ``_USERNAME`` / ``_PASSWORD`` is the
shorthand for three.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from lti_tool.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
LITERAL = re.compile(r"""["'](CPT_LTI_[A-Z0-9_]*[A-Z0-9])["']""")
# Read by the test suite only (the PostgreSQL URL CI hands it), never by the tool.
TEST_ONLY = {"CPT_LTI_TEST_POSTGRES_URL"}


def read_by_code() -> set[str]:
    names = {f"CPT_LTI_{f.name.upper()}" for f in fields(Settings)}
    for folder in ("lti_tool", "config"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(LITERAL.findall(path.read_text(encoding="utf-8")))
    return names - TEST_ONLY


def documented_in_readme() -> set[str]:
    names: set[str] = set()
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `CPT_LTI_"):
            continue
        first_cell = line.split("|")[1]
        full = re.findall(r"`(CPT_LTI_[A-Z0-9_]+)`", first_cell)
        names |= set(full)
        for suffix in re.findall(r"`(_[A-Z0-9_]+)`", first_cell):
            stem = full[0].rsplit("_", 1)[0]  # CPT_LTI_XAPI_ENDPOINT -> CPT_LTI_XAPI
            names.add(stem + suffix)
    return names


def test_every_variable_the_code_reads_is_in_the_readme() -> None:
    missing = read_by_code() - documented_in_readme()
    assert not missing, f"add to the README's settings tables: {sorted(missing)}"


def test_the_readme_names_no_variable_the_code_does_not_read() -> None:
    stale = documented_in_readme() - read_by_code()
    assert not stale, f"the code no longer reads: {sorted(stale)}"


def test_the_scan_sees_variables_read_outside_settings() -> None:
    # The literal scan is what finds gunicorn's and the CLI's variables: if it broke, the
    # two tests above would pass on Settings fields alone.
    code = read_by_code()
    assert {"CPT_LTI_GUNICORN_THREADS", "CPT_LTI_LOCAL_LRS_PORT",
            "CPT_LTI_ADMIN_PASSWORD", "CPT_LTI_CONFIG"} <= code
