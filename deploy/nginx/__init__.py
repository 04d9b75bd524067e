"""The nginx configuration template and its renderer (``deploy.nginx.render``)."""
