"""The ``bplab`` command line: the top of the stack. It parses arguments, calls one library function
per verb and presents what comes back (tables, progress, URLs); it holds no training or tracking logic.

Layers, imports one way: ``bplab → sweeps → experiments → backprop_core``.
"""
