# SPDX-License-Identifier: LGPL-2.1-or-later
"""install-dir.py PREFIX MESON_DIR: where to install the package.

MESON_DIR (meson's python.get_install_dir()) if this interpreter searches
it, else the interpreter's own site directory under PREFIX, else MESON_DIR.
"""
import os
import site
import sys

prefix, meson_dir = os.path.normpath(sys.argv[1]), sys.argv[2]
searched = [os.path.normpath(p) for p in sys.path + site.getsitepackages()]
if os.path.normpath(meson_dir) in searched:
    print(meson_dir)
else:
    under = [p for p in site.getsitepackages()
             if os.path.commonpath([p, prefix]) == prefix]
    print(under[0] if under else meson_dir)
