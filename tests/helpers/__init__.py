"""What the tests share besides fixtures: settings and test data, staff log-in, WebSocket reads
with a deadline, training data. Fixtures live in the conftest.py files; a test module imports
from here (and tests/fakes.py, tests/proxy.py), never from another test module or a conftest."""
