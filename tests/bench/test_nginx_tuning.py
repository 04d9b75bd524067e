"""bench/micro/nginx_tuning.py: every variant still undoes exactly one choice of the deployed
template, and nginx accepts the result (the tool itself is run by hand, not in make test)."""

from __future__ import annotations

import pytest

from bench.micro.nginx_tuning import VARIANTS, Figure, markdown
from deploy.nginx.render import TEMPLATE, render
from devstack.nginx import check_config, prepare_prefix
from tests.deploy.test_nginx_conf import local_site


@pytest.mark.parametrize("name", list(VARIANTS))
def test_each_variant_changes_the_template_and_nginx_accepts_it(name, tmp_path):
    template = TEMPLATE.read_text()
    changed = VARIANTS[name](template)
    if name == "as deployed":
        assert changed == template
    else:
        assert changed != template
    prefix = tmp_path / "nginx"
    prepare_prefix(prefix)
    config = prefix / "nginx.conf"
    config.write_text(render(local_site(tmp_path), changed))
    check_config(config, prefix)


def test_the_table_has_a_row_per_variant():
    figures = {"micro-cache hit": Figure(1000, 12.5), "proxied": Figure(10, 40.0)}
    figures["static file"] = Figure(2000, 9.0)
    table = markdown({"as deployed": figures, "one nginx worker (not auto = 1 per CPU)": figures})
    assert table.count("\n| ") == 2 and "1,000, 12.5" in table
