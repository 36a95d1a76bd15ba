# SPDX-License-Identifier: LGPL-2.1-or-later
"""libvirt-python on asyncio, with libvirt's I/O kept in C.

register_libvirt() takes libvirtaio's role::

    import asyncio, libvirt, vevent.aio

    async def main():
        binding = vevent.aio.register_libvirt()   # the running loop
        conn = libvirt.open("test:///default")
        ...
        conn.close()
        await binding.drain()

    asyncio.run(main())

A vevent loop (epoll backend) is registered with libvirt, and the asyncio
loop polls its one descriptor (add_reader(loop.fileno(), ...)): when it is
readable, one non-blocking vevent iteration runs libvirt's socket events,
keepalive and timers in C.  No Python code of vevent runs per socket event
or per timer; libvirt's own callbacks (domain events) run on the asyncio
loop's thread.  Changes libvirt makes from other threads wake the asyncio
loop through the same descriptor.
"""

import asyncio
import errno as _errno

import vevent.libvirt as _vlibvirt
from vevent._vevent import Error, Loop

__all__ = ["register_libvirt", "LibvirtAio"]

_current = None  # the LibvirtAio attached last


class LibvirtAio:
    """A vevent loop registered with libvirt, driven by an asyncio loop.

    Returned by register_libvirt(); not created directly.
    """

    def __init__(self, vloop, aioloop):
        self._vloop = vloop
        self._aioloop = aioloop
        self._fd = vloop.fileno()
        self._closed = False
        # A bound C method: asyncio calls it with no Python frame of ours.
        aioloop.add_reader(self._fd, vloop._dispatch)

    @property
    def loop(self):
        """The vevent.Loop that libvirt uses."""
        return self._vloop

    @property
    def asyncio_loop(self):
        """The asyncio loop that drives it."""
        return self._aioloop

    @property
    def closed(self):
        return self._closed

    def _detached(self):
        return self._closed or self._aioloop.is_closed()

    async def drain(self):
        """Wait until libvirt's pending free callbacks have run.

        Call it after closing connections or deregistering callbacks, while
        the asyncio loop still runs.  Returns how many ran here.
        """
        if self._closed:
            raise ValueError("drain: the binding is closed")
        # Let an iteration the descriptor already asked for run first.
        await asyncio.sleep(0)
        return self._vloop.drain()

    def close(self):
        """Stop polling the vevent loop from the asyncio loop.

        libvirt keeps the vevent loop registered (it cannot be undone):
        close connections first.  register_libvirt() may attach it to
        another asyncio loop later.  Closing twice is harmless.
        """
        if self._closed:
            return
        self._closed = True
        if not self._aioloop.is_closed():
            self._aioloop.remove_reader(self._fd)
        self._vloop.drain()

    def __repr__(self):
        return "<vevent.aio.LibvirtAio fd=%d%s>" % (
            self._fd, " closed" if self._closed else "")


def register_libvirt(loop=None):
    """Run libvirt's event loop on the asyncio loop `loop`.

    loop: an asyncio event loop with add_reader() (the selector loops), or
    None for the running one (RuntimeError if none runs).  The first call
    in a process registers a new vevent loop with libvirt; later calls,
    after the previous binding was closed or its asyncio loop closed,
    attach the same vevent loop to the new asyncio loop.  Returns a
    LibvirtAio with drain() and close().

    Raises vevent.Error: EALREADY if a binding is still attached to another
    open asyncio loop, or if vevent.libvirt.register() gave libvirt a loop
    of its own; EBUSY if libvirt already has another implementation
    (virEventRegisterDefaultImpl(), libvirtaio); ImportError as
    vevent.libvirt.register().
    """
    global _current
    if loop is None:
        loop = asyncio.get_running_loop()
    if _current is not None:
        if not _current._detached():
            if _current._aioloop is loop:
                return _current
            raise Error(
                _errno.EALREADY,
                "register_libvirt: libvirt's loop is attached to another "
                "asyncio loop; close() its binding first")
        vloop = _current._vloop
        _current._closed = True
    else:
        if _vlibvirt.registered_loop() is not None:
            raise Error(
                _errno.EALREADY,
                "register_libvirt: vevent.libvirt.register() already gave "
                "libvirt a vevent loop")
        vloop = Loop(backend="epoll")
        _vlibvirt.register(vloop, thread=False)
    _current = LibvirtAio(vloop, loop)
    return _current
