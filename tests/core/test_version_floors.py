"""The installed packages satisfy requirements.txt's floors, the security floors included (each
floor's comment there names the advisories it closes)."""

from importlib.metadata import PackageNotFoundError, version

import pytest
from packaging.requirements import Requirement

from tests.conftest import ROOT


def requirements() -> list[Requirement]:
    lines = [
        line.split(" #")[0].strip()  # pip allows a comment after a requirement
        for name in ("requirements.txt", "requirements-cluster.txt")
        for line in (ROOT / name).read_text().splitlines()
    ]
    return [Requirement(line) for line in lines if line and not line.startswith(("#", "-r"))]


def test_the_security_floors_are_the_first_fixed_releases():
    floors = {r.name: str(r.specifier) for r in requirements()}
    assert ">=3.15.1" in floors["keras"] and ">=13.0" in floors["pillow"]
    assert ">=1.54" in floors["streamlit"] and ">=2.56" in floors["ray"]


@pytest.mark.parametrize("requirement", requirements(), ids=str)
def test_the_installed_version_satisfies_the_floor(requirement):
    try:
        installed = version(requirement.name)
    except PackageNotFoundError:
        pytest.skip(f"{requirement.name} is not installed here")
    assert requirement.specifier.contains(installed, prereleases=True), (requirement, installed)
