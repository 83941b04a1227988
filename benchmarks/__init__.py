"""Developer-only measurements against peers; not installed, not part of ``bplab``.

Run each from the repository root as a module, e.g. ``python -m benchmarks.overhead CONFIG``; the
module's docstring says what it compares and how to read its numbers. ``bplab bench`` is the product
check of the core's speed; these are the studies behind docs/PERFORMANCE.md and docs/RESULTS.md.
"""
