"""Plain helpers shared by the test folders; the fixtures that wrap them live in ``tests/conftest.py``."""
