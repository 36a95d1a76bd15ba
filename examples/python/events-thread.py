#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Print libvirt's domain lifecycle events, with libvirt's event loop on a
native vevent thread.

    events-thread.py        define, start, stop and undefine a domain on
                            test:///default, printing each event
    events-thread.py URI    watch URI until Ctrl-C

The one line that differs from a program on libvirt's default loop is
marked: vevent.libvirt.register() replaces virEventRegisterDefaultImpl()
and the Python thread that would call virEventRunDefaultImpl() forever.
libvirt's socket I/O and keepalive stay in C; on_lifecycle() runs on the
loop's thread.
"""

import signal
import sys
import threading

import libvirt
import vevent.libvirt

NAMES = ("defined", "undefined", "started", "suspended", "resumed",
         "stopped", "shutdown", "pmsuspended", "crashed")
DEMO_XML = """<domain type='test'>
  <name>demo-1</name><memory>8192</memory><os><type>hvm</type></os>
</domain>"""

changed = threading.Condition()
seen = []


def on_lifecycle(conn, dom, event, detail, opaque):
    name = NAMES[event] if 0 <= event < len(NAMES) else str(event)
    print("%s %s (detail %d)" % (dom.name(), name, detail), flush=True)
    with changed:
        seen.append(event)
        changed.notify_all()


def wait_for(event):
    with changed:
        if not changed.wait_for(lambda: event in seen, timeout=30):
            sys.exit("no %s event within 30 s" % NAMES[event])
        seen.clear()


def demo(conn):
    dom = conn.defineXML(DEMO_XML)
    wait_for(libvirt.VIR_DOMAIN_EVENT_DEFINED)
    dom.create()
    wait_for(libvirt.VIR_DOMAIN_EVENT_STARTED)
    dom.destroy()
    wait_for(libvirt.VIR_DOMAIN_EVENT_STOPPED)
    dom.undefine()
    wait_for(libvirt.VIR_DOMAIN_EVENT_UNDEFINED)


def main():
    uri = sys.argv[1] if len(sys.argv) > 1 else None
    loop = vevent.libvirt.register()  # <- the one line: libvirt on vevent
    conn = libvirt.open(uri or "test:///default")
    cb = conn.domainEventRegisterAny(
        None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle, None)
    if uri is None:
        demo(conn)
    else:
        print("watching %s; Ctrl-C to stop" % uri, flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    # Close while the loop runs, then stop it: that also releases what
    # libvirt removed last.
    conn.domainEventDeregisterAny(cb)
    conn.close()
    loop.stop_thread()


if __name__ == "__main__":
    main()
