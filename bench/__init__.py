"""The benchmark: ``make bench`` (``python -m bench``) measures the local production stack
against ceilings measured in the same run and writes bench/results/<timestamp>/report.md."""
