"""`python -m studio.jobs`: a child job (the protocol in studio.jobs); `... probe`: the device."""

from __future__ import annotations

import sys

from studio.jobs.operations import describe_device
from studio.jobs.runners import serve


def main(argv: list[str]) -> int:
    if argv == ["probe"]:
        sys.stdout.write(describe_device() + "\n")
        return 0
    if argv:
        sys.stderr.write("usage: python -m studio.jobs [probe]\n")
        return 2
    return serve()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
