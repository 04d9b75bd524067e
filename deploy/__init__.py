"""Deployment files: gunicorn, nginx, the local stack, Docker, Kubernetes, Prometheus.

A package only so that ``deploy.nginx.render`` is importable (``python -m deploy.nginx.render``).
"""
