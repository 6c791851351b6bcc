"""Shared fixtures for the rulec package's tests.

The tests import the installed package (tests/suites/python.sh installs it
into a fresh venv); with RULEC_REQUIRE_INSTALLED=1 they refuse to run
against the source tree's python/ directory.
"""

from __future__ import annotations

import os
import pathlib

import pytest

import rulec

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

# The three lines of the article rulec grew from: an outbound PPTP allowance.
ARTICLE = """#PPTP Virtual Private Network
pass protocol tcp, to port 1723 >> state, done
pass protocol 47 >> done
"""

if os.environ.get("RULEC_REQUIRE_INSTALLED") == "1":
    source_package = (ROOT / "python" / "rulec").resolve()
    loaded = pathlib.Path(rulec.__file__).resolve().parent
    if loaded == source_package:
        raise RuntimeError(f"testing the source tree ({loaded}), not the installed package")


def pytest_report_header(config: pytest.Config) -> str:
    return f"rulec {rulec.__version__} from {pathlib.Path(rulec.__file__).parent}"


@pytest.fixture
def article() -> rulec.Policy:
    return rulec.parse(ARTICLE, "article.rules")


@pytest.fixture
def office() -> rulec.Policy:
    return rulec.load(EXAMPLES / "office.rules")


@pytest.fixture(scope="session")
def rulec_bin() -> pathlib.Path:
    """The rulec command of the same source tree, for comparing outputs."""
    for candidate in (os.environ.get("RULEC_BIN"), os.environ.get("RULEC_BUILD_DIR", "") + "/rulec"):
        if candidate and os.access(candidate, os.X_OK):
            return pathlib.Path(candidate)
    pytest.skip("no rulec command built (set RULEC_BIN)")
