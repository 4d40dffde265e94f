"""The frozen app's main script: PyInstaller needs a script file, not a console_scripts entry.

Everything else (the CLI, `train`, opening the window with no command) is the launcher's job.
"""

import sys

from clippo_desktop.launcher import main

if __name__ == "__main__":
    sys.exit(main())
