"""Benchmarks for developers of cxagent: scripts that print their numbers and the machine they
ran on (never tests, never installed). Run them from the repository root:

- ``python -m benchmarks.retrieval``: the held-out demo questions against the knowledge base.
- ``python -m benchmarks.chat``: chat turns through the HTTP API of real server processes, beside
  the bare encoder's forward pass; ``--pythonpath DIR`` serves another checkout, to compare two
  versions of the code in one run.
- ``python -m benchmarks.nlu``: training and evaluation on public data (``--data-dir``).
- ``python -m benchmarks.installed_check URL_A URL_B``: two running servers answer the held-out
  questions alike (an installed wheel against the editable checkout).
"""
