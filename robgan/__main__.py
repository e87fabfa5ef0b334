"""``python -m robgan ...`` is the ``robgan`` command (for machines where the package is on
``PYTHONPATH`` but not installed, e.g. a GPU machine running ``benchmarks/gpu_check.sh``)."""

import sys

from robgan.cli import main

sys.exit(main())
