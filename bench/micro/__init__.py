"""In-process micro-benchmarks: ``python -m bench.micro.cpu_per_request`` (CPU per request of
the hot paths) and ``python -m bench.micro.nginx_tuning`` (each nginx tuning choice alone)."""
