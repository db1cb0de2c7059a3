import os
import sys

from workshop.instructor.cli import main

status = main()
if status >= 128:
    # Interrupted (Ctrl-C or SIGTERM): everything the command keeps is already written
    # (atomically). TensorFlow's worker threads may still be mid-step, and tearing the
    # interpreter down under them can abort in a destructor, turning a clean stop into
    # SIGABRT; so leave without the teardown, with the status the command chose.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
sys.exit(status)
