"""Builds the rulec Python package (python/rulec) with its extension module.

The extension (bindings/) is built by the project's own CMake build, so it
links the same library the `rulec` command does. Offline, with Debian's
packages (python3-setuptools, python3-wheel, pybind11-dev, cmake, ninja):

    /usr/bin/python3 -m venv --system-site-packages .venv
    .venv/bin/pip install --no-build-isolation .

RULEC_CMAKE_BUILD_DIR chooses the CMake build directory (default build-pip/;
setuptools' own files go in its setuptools/),
RULEC_JOBS the number of parallel compile jobs (default 2).
"""

import glob
import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


def version() -> str:
    with open(os.path.join(ROOT, "lib", "version.hpp"), encoding="utf-8") as f:
        match = re.search(r'#define RULEC_VERSION "([^"]+)"', f.read())
    if not match:
        raise RuntimeError("lib/version.hpp has no RULEC_VERSION")
    return match.group(1)


def cmake_build_dir() -> str:
    """The CMake build directory: RULEC_CMAKE_BUILD_DIR, or build-pip/."""
    return os.environ.get("RULEC_CMAKE_BUILD_DIR") or os.path.join(ROOT, "build-pip")


class CMakeBuild(build_ext):
    """Configures the project with -DRULEC_PYTHON=ON and builds only the module."""

    def build_extension(self, ext: Extension) -> None:
        build_dir = cmake_build_dir()
        configure = [
            "cmake", "-S", ROOT, "-B", build_dir,
            "-DRULEC_PYTHON=ON",
            "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
            f"-DPython3_EXECUTABLE={sys.executable}",
        ]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        if os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
            configure = [a for a in configure if a not in ("-G", "Ninja")]
        subprocess.run(configure, check=True)
        jobs = os.environ.get("RULEC_JOBS", "2")
        subprocess.run(["cmake", "--build", build_dir, "--target", "_rulec", "-j", jobs], check=True)
        built = glob.glob(os.path.join(build_dir, "python", "rulec", "_rulec*.so"))
        if len(built) != 1:
            raise RuntimeError(f"expected one built _rulec module in {build_dir}, found {built}")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built[0], target)


setup(
    name="rulec",
    version=version(),
    description="A firewall rule-language compiler and linter",
    python_requires=">=3.9",
    package_dir={"": "python"},
    packages=["rulec"],
    package_data={"rulec": ["py.typed", "*.pyi"]},
    ext_modules=[Extension("rulec._rulec", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    # setuptools' own files beside CMake's, so that two builds in two
    # directories never share them
    options={"build": {"build_base": os.path.join(cmake_build_dir(), "setuptools")}},
    zip_safe=False,
)
