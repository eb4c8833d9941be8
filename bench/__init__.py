"""Benchmarks: ``make bench`` runs :mod:`bench.run`; results land in ``bench/results/`` and ``bench/RESULTS.md``."""
