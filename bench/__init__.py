"""CNN Studio's benchmarks: `python -m bench [name ...]` (or `make bench`) prints tables of figures
and writes them to bench/results/latest.json. Ratios are against plain Keras on the same work."""
