"""Launch Muppet Studio's window (`python main.py [--store PATH] [--data-dir D]`)."""

import sys

from studio.app import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
