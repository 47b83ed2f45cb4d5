"""Hypothesis profiles for the engine tests.

- ``dev`` (the default): random examples, 100 per property test; the stateful machines in
  ``test_stateful.py`` take a quarter of that per format.
- ``ci`` (chosen when the ``CI`` environment variable is set): the same budget, but
  ``derandomize=True`` so every CI run tests the same examples, no example database (CI
  machines start clean anyway) and a reproduction blob printed with every failure.
- ``thorough`` (``HYPOTHESIS_PROFILE=thorough``): twenty times the budget, for hunting bugs
  before a release; not meant for every run.

``HYPOTHESIS_PROFILE`` names a profile explicitly and wins over ``CI``.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci", max_examples=100, deadline=None, derandomize=True, database=None, print_blob=True
)
settings.register_profile("thorough", max_examples=2_000, deadline=None)

settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)
