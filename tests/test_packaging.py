"""Set-up files agree with each other: one source of truth for requirements."""

from __future__ import annotations

import re

import pytest
import tomllib
from conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def environment_yml() -> dict:
    """A tiny reader for environment.yml's flat structure (PyYAML is not a course dependency)."""
    deps, pip, section = [], [], None
    for raw in (ROOT / "environment.yml").read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line.startswith(" "):
            section = line.split(":")[0]
        elif section == "dependencies":
            item = line.strip().removeprefix("- ").strip()
            if raw.startswith("      - "):
                pip.append(item)
            elif item != "pip:":
                deps.append(item)
    return {"dependencies": deps, "pip": pip}


def test_every_requirement_is_pinned_exactly():
    requirements = PYPROJECT["project"]["dependencies"] + [
        r for extra in PYPROJECT["project"]["optional-dependencies"].values() for r in extra
    ]
    for requirement in requirements:
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][0-9A-Za-z.]*", requirement), requirement
    assert "torch==2.13.0" in requirements, "an unpinned torch pulls a multi-GB CUDA build"


def test_environment_yml_delegates_to_pyproject():
    env = environment_yml()
    # conda supplies only Python and pip; every package comes from pyproject.toml.
    assert sorted(d.split("=")[0] for d in env["dependencies"]) == ["pip", "python"], env
    assert env["pip"] == ["-e .[test]"], env
    python = next(d for d in env["dependencies"] if d.startswith("python="))
    major, minor = python.split("=")[1].split(".")[:2]
    floor = re.fullmatch(r">=(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert (int(major), int(minor)) >= (int(floor[1]), int(floor[2]))


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    for requirement in PYPROJECT["project"]["dependencies"]:
        name, pinned = requirement.split("==")
        assert version(name).split("+")[0] == pinned, (
            f"{name}: installed {version(name)}, pinned {pinned}"
        )


@pytest.mark.parametrize("target", ["lab", "test", "exercises"])
def test_makefile_has_the_documented_targets(target):
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(rf"^{target}:", makefile, re.M)
    assert f"make {target}" in (ROOT / "README.md").read_text()


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
