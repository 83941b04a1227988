"""``python -m bplab``: the same as the ``bplab`` console script."""

from bplab.app import main

main()
