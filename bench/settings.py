"""The product's settings plus a URLconf with a no-op view, for the web-ceiling baseline.

The no-op view lives only here so the product never ships it.
"""

from postback_platform.settings import *  # noqa: F403 - the benchmark runs the real settings

ROOT_URLCONF = "bench.urls"
