# SPDX-License-Identifier: LGPL-2.1-or-later
"""meson-python, run on this directory's meson.build.

meson-python builds the project in the current directory, and the
package's directory (bindings/python) holds the meson.build that vevent's
own build tree includes, which cannot be a project of its own.  Each hook
runs with this directory as the current one; paths handed to it are made
absolute first.
"""

import functools
import os

import mesonpy

_HERE = os.path.dirname(os.path.abspath(__file__))


def _here(hook):
    @functools.wraps(hook)
    def wrapper(*args, **kwargs):
        args = tuple(os.path.abspath(a) if isinstance(a, str) else a
                     for a in args)
        cwd = os.getcwd()
        os.chdir(_HERE)
        try:
            return hook(*args, **kwargs)
        finally:
            os.chdir(cwd)
    return wrapper


get_requires_for_build_sdist = _here(mesonpy.get_requires_for_build_sdist)
build_sdist = _here(mesonpy.build_sdist)
get_requires_for_build_wheel = _here(mesonpy.get_requires_for_build_wheel)
build_wheel = _here(mesonpy.build_wheel)
