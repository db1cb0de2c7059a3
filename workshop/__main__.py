import sys

from workshop.instructor.cli import main

sys.exit(main())
