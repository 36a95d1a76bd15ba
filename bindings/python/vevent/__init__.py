# SPDX-License-Identifier: LGPL-2.1-or-later
"""vevent: a native event loop for Python, and for libvirt-python.

vevent.Loop is the vevent C library's event loop.  Its callbacks have
libvirt-python's signatures, and the constants equal libvirt's::

    import vevent

    def on_readable(watch, fd, events, opaque):
        print(os.read(fd, 100))

    with vevent.Loop() as loop:
        loop.add_handle(sys.stdin, vevent.HANDLE_READABLE, on_readable)
        loop.add_timeout(1000, lambda timer, opaque: loop.quit())
        loop.run()

libvirt-python on a vevent loop, all of libvirt's I/O, keepalive and timers
staying in C (only libvirt's callbacks, such as domain events, enter
Python):

- with a native helper thread, instead of virEventRegisterDefaultImpl()
  plus a thread calling virEventRunDefaultImpl()::

      vevent.libvirt.register()

- on an asyncio loop, instead of libvirtaio.virEventRegisterAsyncIOImpl()::

      vevent.aio.register_libvirt()

Errors of the C library raise vevent.Error, an OSError whose errno is
vevent's (EBADF, ENOENT, EBUSY, ...) and whose strerror is its message.
An exception raised by a callback goes to sys.unraisablehook and the loop
goes on (KeyboardInterrupt and SystemExit end run()/run_once() on the
thread running them).  The GIL is released while a loop waits; callbacks
take it on whichever thread runs the loop.
"""

import atexit as _atexit

from vevent._vevent import (
    HANDLE_ERROR,
    HANDLE_HANGUP,
    HANDLE_READABLE,
    HANDLE_WRITABLE,
    Error,
    Loop,
    library_version,
    _stop_threads,
)

__all__ = [
    "Loop",
    "Error",
    "HANDLE_READABLE",
    "HANDLE_WRITABLE",
    "HANDLE_ERROR",
    "HANDLE_HANGUP",
    "library_version",
]

__version__ = "@VERSION@"

# Helper threads take the GIL for each callback: stop them while the
# interpreter can still give it to them.
_atexit.register(_stop_threads)
