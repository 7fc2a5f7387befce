"""The deploy lock (requirements.txt) pins every dependency of pyproject.toml, extras' too, at a
version its range allows. (.ci/run also installs the lock alone and runs `pip check`.)"""

from __future__ import annotations

import tomllib
from importlib.metadata import requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line!r}"
            found[canonicalize_name(name)] = version.strip()
    return found


def test_every_dependency_is_pinned_within_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = pins()
    for spec in project["dependencies"]:
        wanted = Requirement(spec)
        name = canonicalize_name(wanted.name)
        assert name in pinned, f"{wanted.name} is not in requirements.txt (run scripts/lock)"
        assert wanted.specifier.contains(pinned[name], prereleases=True), (
            f"requirements.txt pins {wanted.name}=={pinned[name]}, pyproject wants {spec}"
        )
        for extra in sorted(wanted.extras):  # what the extras bring must be pinned too
            for line in requires(wanted.name) or []:
                brought = Requirement(line)
                if brought.marker is not None and brought.marker.evaluate({"extra": extra}):
                    assert canonicalize_name(brought.name) in pinned, (
                        f"{brought.name} ({wanted.name}[{extra}]) is not in requirements.txt"
                    )


def test_the_python_version_file_matches_requires_python() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    version = (ROOT / ".python-version").read_text().strip()
    assert Requirement(f"python{project['requires-python']}").specifier.contains(f"{version}.0")
