"""``python -m verify_env``."""

import sys

from verify_env.cli import main

sys.exit(main())
