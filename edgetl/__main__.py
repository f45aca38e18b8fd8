import sys

from edgetl.cli import main

sys.exit(main())
