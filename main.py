"""Launch Muppet Studio (`python main.py`)."""

import sys

from studio.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["demo"]))
