"""Measuring the stack, one subpackage per tool:

- ``bench.load``: the load benchmark, ``make bench`` (``python -m bench``): the local production
  stack against ceilings measured in the same run; writes bench/results/<timestamp>/report.md.
- ``bench.micro``: in-process micro-benchmarks (``python -m bench.micro.cpu_per_request``,
  ``python -m bench.micro.nginx_tuning``).
- ``bench.chaos``: chaos under load, ``make chaos`` (``python -m bench.chaos``).
- ``bench.capacity``: the capacity plan from a load run's results.json.
- ``bench.minimal``: the framework floor app that the load benchmark and the micro-benchmarks use.
"""
