"""What pyproject.toml cannot say declaratively: the repository's top-level templates/, static/ and fixtures/ folders
travel inside the package. A wheel (and so `pip install .`) installs them as sandbox/data/templates, sandbox/data/static
and sandbox/data/fixtures; `sandbox.settings.data_path` finds them there, or in a checkout at the top level."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
DATA_FOLDERS = ("templates", "static", "fixtures")


def data_packages() -> tuple[list[str], dict[str, str], dict[str, list[str]]]:
    """Each data folder and its subfolders as packages under sandbox.data, mapped onto the top-level folder."""
    packages, package_dir, package_data = [], {}, {}
    for folder in DATA_FOLDERS:
        package_dir[f"sandbox.data.{folder}"] = folder
        for directory in [HERE / folder, *sorted(d for d in (HERE / folder).rglob("*") if d.is_dir())]:
            if directory.name == "__pycache__":
                continue
            name = "sandbox.data." + ".".join(directory.relative_to(HERE).parts)
            packages.append(name)
            package_data[name] = ["*"]
    return packages, package_dir, package_data


packages, package_dir, package_data = data_packages()
setup(
    packages=find_packages(include=["sandbox", "sandbox.*"]) + packages,
    package_dir=package_dir,
    package_data={"sandbox": ["store/migrations/*.sql"], **package_data},
)
