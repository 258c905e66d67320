"""The installed packages satisfy requirements.txt's floors, the security floors included (each
floor's comment there names the advisories it closes)."""

from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path

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


def test_the_installed_keras_keeps_asset_paths_in_their_folder():
    """CVE-2026-12479 (DiskIOStore path traversal) names no fixed release, and 3.15.1's release notes do
    not list it; requirements.txt says the 3.15.1 wheel has the fix (keras PR #23017). Read from the
    installed source: importing Keras would start TensorFlow."""
    spec = find_spec("keras")
    if spec is None:
        pytest.skip("keras is not installed here")
    source = (Path(spec.submodule_search_locations[0]) / "src" / "saving" / "saving_lib.py").read_text()
    store = source[source.index("class DiskIOStore") :]
    store = store[: store.index("\nclass ")]
    assert "def _full_path" in store and "escapes the asset directory" in store
    assert store.count("self._full_path(path)") >= 2  # make() and get() both resolve through it
