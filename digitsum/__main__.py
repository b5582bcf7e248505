import sys

from digitsum.cli import main

sys.exit(main())
