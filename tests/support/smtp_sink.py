"""A real SMTP server for the mail tests: accepts every message on
127.0.0.1:<port> and saves it as <dir>/<n>.eml (written to a temporary name
first, then renamed, so a reader never sees half a message). Prints
"ready" once listening; runs until killed.

Usage: python smtp_sink.py <port> <dir>
"""

import asyncio
import itertools
import os
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        n = next(self.count)
        final = os.path.join(self.directory, f"{n:06d}.eml")
        partial = final + ".part"
        with open(partial, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(partial, final)
        return "250 OK"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
