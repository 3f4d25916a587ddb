import sys

from inceptionism.engine.cli import main

sys.exit(main())
