# SPDX-License-Identifier: LGPL-2.1-or-later
"""run-pytest.py PKGDIR SANITIZE TESTFILE [NEEDS...] [-- PYTEST-ARGS...]

Runs one pytest file of the Python binding in this interpreter (meson runs
it with Debian's /usr/bin/python3, so that a test wrapper such as valgrind
wraps the interpreter that loads the extension), importing the package
built in PKGDIR (the directory holding vevent/).  NEEDS: "libvirt"
(libvirt-python and the binding's libvirt bridge).

Exits 77 (skipped), saying why, when the binding could not be built (meson
sets VEVENT_PY_SKIP to the reason), a need is missing, or the interpreter
cannot load the sanitized extension.  SANITIZE is meson's b_sanitize: the
interpreter is not instrumented, so it runs again with the sanitizer's
runtime preloaded.
"""

import glob
import os
import subprocess
import sys

SKIP = 77


def skip(why):
    print("skipped: " + why)
    sys.exit(SKIP)


def preload_for(sanitize, needs):
    """LD_PRELOAD and options for an instrumented extension."""
    libs, env = [], {}

    def runtime(name):
        return subprocess.run(["cc", "-print-file-name=" + name],
                              capture_output=True, text=True).stdout.strip()

    if "address" in sanitize:
        libs.append(runtime("libasan.so"))
        if "undefined" in sanitize:
            libs.append(runtime("libubsan.so"))
        # The interpreter's own allocations at exit are not ours to judge.
        env["ASAN_OPTIONS"] = "detect_leaks=0:verify_asan_link_order=0"
    elif "thread" in sanitize:
        libs.append(runtime("libtsan.so"))
        env["TSAN_OPTIONS"] = "ignore_noninstrumented_modules=1"
    elif "undefined" in sanitize:
        libs.append(runtime("libubsan.so"))
    if libs and "libvirt" in needs:
        # The runtime's XDR interceptors look the real functions up when
        # they start: libtirpc, which libvirt brings in, must be there.
        libs.append("libtirpc.so.3")
    return libs, env


def main():
    pkgdir, sanitize, test = sys.argv[1:4]
    needs = sys.argv[4:]
    extra = []
    if "--" in needs:
        extra = needs[needs.index("--") + 1:]
        needs = needs[:needs.index("--")]
    here = os.path.dirname(os.path.abspath(__file__))

    if os.environ.get("VEVENT_PY_SKIP"):
        skip(os.environ["VEVENT_PY_SKIP"])
    if not glob.glob(os.path.join(pkgdir, "vevent", "_vevent.*.so")):
        sys.exit("the Python binding is not built in " + pkgdir)
    if "libvirt" in needs:
        try:
            import libvirt  # noqa: F401
        except ImportError:
            skip("libvirt-python is not installed (Debian: python3-libvirt)")
        if not glob.glob(os.path.join(pkgdir, "vevent", "_libvirt.*.so")):
            skip("vevent was built without its libvirt bridge (libvirt-dev "
                 "not found), so vevent.libvirt is not available")

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([pkgdir, here])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    libs, options = preload_for(sanitize or "", needs)
    if libs and not os.environ.get("VEVENT_PY_PRELOADED"):
        for key, value in options.items():
            env[key] = env[key] + ":" + value if env.get(key) else value
        env["LD_PRELOAD"] = " ".join(libs + [env.get("LD_PRELOAD", "")]).strip()
        env["VEVENT_PY_PRELOADED"] = "1"
        probe = subprocess.run(
            [sys.executable, "-c", "import vevent; vevent.Loop().close()"],
            env=env, capture_output=True, text=True)
        if probe.returncode != 0:
            print("skipped: %s cannot load the extension built with "
                  "-fsanitize=%s:" % (sys.executable, sanitize))
            print("\n".join((probe.stdout + probe.stderr).splitlines()[:5]))
            sys.exit(SKIP)
        # Again, in an interpreter that starts with the runtime.
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    os.chdir(here)
    # Same process: a wrapper around this interpreter (valgrind) sees the
    # extension.
    os.environ.clear()
    os.environ.update(env)
    sys.path[:0] = [pkgdir, here]
    import pytest
    status = pytest.main(["-q", "-c", os.path.join(here, "pytest.ini"),
                          os.path.join(here, test)] + extra)
    # 5: no test collected, which must not pass for a run.
    if status == 5:
        sys.exit("no test collected in " + test)
    sys.exit(int(status))


if __name__ == "__main__":
    main()
