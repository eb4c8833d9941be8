"""The run-time lock installs on every Python 3.11, not only on the one that compiled it.

pip-compile writes what the Python running it needs: a dependency behind a
marker that is false there (redis-py's ``async-timeout`` before 3.11.3) is
left out, and ``pip install --require-hashes`` then refuses the lock on a
Python where the marker is true (Debian 12's python3 is 3.11.2). This reads
the installed packages' own requirements and evaluates their markers for
early and late 3.11 releases.
"""

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK = Path(__file__).resolve().parent.parent / "requirements.txt"
PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", re.MULTILINE)
PYTHONS = ("3.11.0", "3.11.2", "3.11.7", "3.11.14")


def _locked() -> set[str]:
    return {canonicalize_name(name) for name in PINNED.findall(LOCK.read_text())}


@pytest.mark.parametrize("python", PYTHONS)
def test_every_dependency_of_a_locked_package_is_locked_too(python):
    locked = _locked()
    environment = {"python_version": "3.11", "python_full_version": python}
    missing = set()
    for name in sorted(locked):
        for line in metadata.requires(name) or ():
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is not None and "extra" in str(marker):
                continue  # an extra's dependencies are locked when the extra is asked for (celery[redis])
            if marker is None or marker.evaluate(environment):
                if canonicalize_name(requirement.name) not in locked:
                    missing.add(f"{requirement.name} (for {name}: {line})")

    assert not missing, f"requirements.txt lacks, on Python {python}: {sorted(missing)}; name them in requirements.in"


def test_the_check_sees_a_dependency_behind_a_python_marker():
    requirement = Requirement('async-timeout>=4.0.3; python_full_version < "3.11.3"')

    assert requirement.marker.evaluate({"python_version": "3.11", "python_full_version": "3.11.2"})
    assert not requirement.marker.evaluate({"python_version": "3.11", "python_full_version": "3.11.7"})
