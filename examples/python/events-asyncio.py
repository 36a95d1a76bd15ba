#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Print libvirt's domain lifecycle events from an asyncio program, with
libvirt's I/O and timers in C.

    events-asyncio.py       define, start, stop and undefine a domain on
                            test:///default, printing each event
    events-asyncio.py URI   watch URI until Ctrl-C

The one line that differs from a program on libvirtaio is marked:
vevent.aio.register_libvirt() replaces
libvirtaio.virEventRegisterAsyncIOImpl().  The asyncio loop polls one
descriptor of a vevent loop; libvirt's callbacks (on_lifecycle) run on the
asyncio thread, and no Python code runs per socket event or timer.
"""

import asyncio
import signal
import sys

import libvirt
import vevent.aio

NAMES = ("defined", "undefined", "started", "suspended", "resumed",
         "stopped", "shutdown", "pmsuspended", "crashed")
DEMO_XML = """<domain type='test'>
  <name>demo-1</name><memory>8192</memory><os><type>hvm</type></os>
</domain>"""


async def demo(conn, events):
    async def step(call, event):
        # libvirt's calls block: run them off the asyncio thread.
        result = await asyncio.to_thread(call)
        while True:
            got = await asyncio.wait_for(events.get(), 30)
            if got == event:
                return result

    dom = await step(lambda: conn.defineXML(DEMO_XML),
                     libvirt.VIR_DOMAIN_EVENT_DEFINED)
    await step(dom.create, libvirt.VIR_DOMAIN_EVENT_STARTED)
    await step(dom.destroy, libvirt.VIR_DOMAIN_EVENT_STOPPED)
    await step(dom.undefine, libvirt.VIR_DOMAIN_EVENT_UNDEFINED)


async def main():
    uri = sys.argv[1] if len(sys.argv) > 1 else None
    binding = vevent.aio.register_libvirt()  # <- the one line
    events = asyncio.Queue()

    def on_lifecycle(conn, dom, event, detail, opaque):
        name = NAMES[event] if 0 <= event < len(NAMES) else str(event)
        print("%s %s (detail %d)" % (dom.name(), name, detail), flush=True)
        events.put_nowait(event)

    conn = await asyncio.to_thread(libvirt.open, uri or "test:///default")
    cb = conn.domainEventRegisterAny(
        None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle, None)
    if uri is None:
        await demo(conn, events)
    else:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
        print("watching %s; Ctrl-C to stop" % uri, flush=True)
        await stop.wait()
    conn.domainEventDeregisterAny(cb)
    conn.close()
    await binding.drain()  # what libvirt removed last is released
    binding.close()


if __name__ == "__main__":
    asyncio.run(main())
