"""The audit log: its hash chain (chain.py), export (export.py), verification (verify.py) and
live sink (sink.py).

Nothing is imported here: the store imports the pure chain module while the sink and the
commands import the store, so each module is imported by name.
"""
