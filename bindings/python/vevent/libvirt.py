# SPDX-License-Identifier: LGPL-2.1-or-later
"""libvirt-python on a native vevent loop.

Call register() once, before opening any connection::

    import libvirt
    import vevent.libvirt

    vevent.libvirt.register()          # instead of virEventRegisterDefaultImpl()
    conn = libvirt.open("test:///default")
    conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                on_lifecycle, None)

libvirt's socket I/O, keepalive and timers run in C on the loop; only
libvirt's callbacks (domain events, close callbacks) enter Python.
"""

import errno as _errno

from vevent._vevent import Error, Loop

try:
    from vevent import _libvirt as _bridge
except ImportError:  # built without libvirt's development files
    _bridge = None

__all__ = ["register", "registered_loop"]

_registered = None


def registered_loop():
    """The Loop that register() gave libvirt, or None."""
    return _registered


def register(loop=None, thread=True):
    """Make a vevent loop the event loop of this process's libvirt.

    loop: a vevent.Loop, or None for a new one.  thread=True runs it on a
    native helper thread (libvirt's callbacks then run on that thread,
    taking the GIL); with thread=False the caller runs it (run(),
    run_once(), or another loop polling fileno()).  Returns the Loop.

    libvirt keeps its first implementation for the life of the process:
    the loop can then never be closed (close() raises), and register()
    works once per process.  Raises:

    - ImportError if libvirt-python is not installed, or if vevent was
      built without its libvirt bridge;
    - vevent.Error (EALREADY) if it was already called successfully;
    - vevent.Error (EBUSY) if libvirt already has another event loop
      (virEventRegisterDefaultImpl(), libvirtaio, virEventRegisterImpl()).
    """
    global _registered
    try:
        import libvirt  # noqa: F401  (libvirt-python: the same libvirt.so)
    except ImportError as e:
        raise ImportError(
            "vevent.libvirt.register: libvirt-python is not installed "
            "(Debian: python3-libvirt)"
        ) from e
    if _bridge is None:
        raise ImportError(
            "vevent.libvirt.register: vevent was built without its libvirt "
            "bridge (libvirt's development files were not found)"
        )
    if _registered is not None:
        raise Error(
            _errno.EALREADY,
            "vevent.libvirt.register: libvirt already runs on a vevent loop "
            "(%r); libvirt keeps one for the life of the process" % _registered,
        )
    if loop is None:
        loop = Loop()
    elif not isinstance(loop, Loop):
        raise TypeError("loop must be a vevent.Loop or None, not %s"
                        % type(loop).__name__)
    loop._pin(True)
    try:
        _bridge.register(loop._capsule())
    except BaseException:
        loop._pin(False)
        raise
    _registered = loop
    if thread:
        loop.start_thread()
    return loop
