"""python -m deepkit.capi --cflags --libs: the same as `deepkit config`."""

import sys

from deepkit.cli import main

sys.exit(main(["config", *sys.argv[1:]]))
