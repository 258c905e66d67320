"""`python -m cnn_core`: CNN Studio's command line (see cnn_core/cli/)."""

import sys

from cnn_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
