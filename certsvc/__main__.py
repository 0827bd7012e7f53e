import sys

from certsvc.cli import main

sys.exit(main())
