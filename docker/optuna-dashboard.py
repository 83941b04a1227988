"""The compose ``dashboard`` service: optuna-dashboard on the storage named by ``BPLAB_OPTUNA_STORAGE``.

optuna-dashboard takes its storage URL as an argument, and a process's arguments are readable by
every user of the host (``ps``, ``/proc/PID/cmdline``); the URL holds the database password. So the
URL is read from the environment here and handed to optuna-dashboard's own command-line parser inside
this process: the process's arguments keep only the options (``--host``, ``--port``, …).
"""

import os
import sys

from optuna_dashboard._cli import main  # the `optuna-dashboard` console script's entry point

ENV = "BPLAB_OPTUNA_STORAGE"

if __name__ == "__main__":
    url = os.environ.get(ENV, "").strip()
    if not url:
        sys.exit(f"optuna-dashboard: {ENV} is not set; refusing to start (copy .env.example to .env)")
    sys.argv = ["optuna-dashboard", *sys.argv[1:], url]  # Python's copy only: /proc keeps the real argv
    main()
