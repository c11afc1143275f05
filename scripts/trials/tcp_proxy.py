#!/usr/bin/env python3
"""A loopback TCP stand-in for fault trials and tests.

    tcp_proxy.py forward LISTEN_PORT TARGET_PORT   # relay 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT
    tcp_proxy.py blackhole LISTEN_PORT             # accept connections, read what comes, never answer

Prints "ready" on stdout once listening. Stops on SIGTERM/SIGINT, or by itself after --lifetime seconds
(default 600), so a forgotten instance cannot outlive a trial. Loopback only.
"""
import asyncio
import signal
import sys


async def relay(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    args = sys.argv[1:]
    lifetime = 600.0
    if "--lifetime" in args:
        i = args.index("--lifetime")
        lifetime = float(args[i + 1])
        del args[i:i + 2]
    mode, listen = args[0], int(args[1])
    held = []

    async def on_forward(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", int(args[2]))
        except OSError:
            writer.close()
            return
        await asyncio.gather(relay(reader, up_writer), relay(up_reader, writer))

    async def on_blackhole(reader, writer):
        held.append(writer)
        try:
            while await reader.read(65536):
                pass
        except (ConnectionError, OSError):
            pass

    handler = on_forward if mode == "forward" else on_blackhole
    server = await asyncio.start_server(handler, "127.0.0.1", listen, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    try:
        await asyncio.wait_for(stop.wait(), timeout=lifetime)
    except asyncio.TimeoutError:
        pass
    server.close()


if __name__ == "__main__":
    # A parent may have spawned us with signals blocked (a thread's mask is inherited through posix_spawn, and Swift
    # test runners block some): unblock the ones that stop us, or SIGTERM would wait for --lifetime.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    asyncio.run(main())
