"""The provider as a wheel holds what the editable install serves: every module and every data file.

`make install` installs the package editable, which serves any file under plugins/; a wheel built
from pyproject.toml holds only the packages `setuptools.packages.find` sees (folders with an
`__init__.py`) and the data its `package-data` globs name. A folder or data file those miss works
in every test and is absent in production.
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "plugins" / "llm_operators"


def test_every_folder_with_modules_is_a_regular_package() -> None:
    folders = {p.parent for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    missing = sorted(str(f.relative_to(REPO)) for f in folders if not (f / "__init__.py").exists())
    assert not missing, f"setuptools.packages.find leaves these out of the wheel: {missing}"


def test_every_data_file_is_named_by_package_data() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = config.get("package-data", {})
    data = [
        p
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert data, "the package ships data (the reply templates): this test must see it"
    for path in data:
        shipped = False
        for package, patterns in globs.items():
            package_dir = REPO / "plugins" / Path(*package.split("."))
            if package_dir in path.parents:
                relative = str(path.relative_to(package_dir))
                shipped = shipped or any(fnmatch.fnmatch(relative, pattern) for pattern in patterns)
        assert shipped, f"{path.relative_to(REPO)} is not in [tool.setuptools.package-data]"
