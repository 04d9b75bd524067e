"""The load benchmark (``make bench``, ``python -m bench``): the stack seeded at scale, wrk load,
ceilings measured in the same run, ratios against the targets, a report in bench/results/."""
