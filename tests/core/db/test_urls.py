"""DATABASE_URL in libpq's multi-host form, and pooler-safe settings (core/db/urls.py)."""

from __future__ import annotations

from core.db.health import probe_params
from core.db.urls import PREPARE_THRESHOLD, database_config, split_urls


def test_a_multi_host_url_gives_django_libpqs_host_and_port_lists():
    config = database_config(
        "postgres://app:secret@db-a:5432,db-b:5433/myhibachi?target_session_attrs=read-write",
        conn_max_age=60,
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"]) == ("db-a,db-b", "5432,5433")
    assert (config["USER"], config["PASSWORD"], config["NAME"]) == ("app", "secret", "myhibachi")
    assert config["OPTIONS"] == {"target_session_attrs": "read-write"}
    assert config["CONN_MAX_AGE"] == 60 and config["CONN_HEALTH_CHECKS"] is True


def test_a_missing_port_is_postgresqls_default_and_a_single_host_is_unchanged():
    assert database_config("postgres://u@a,b:6/db", conn_max_age=0)["PORT"] == "5432,6"
    single = database_config("postgres://u@db:5432/db", conn_max_age=0)
    assert (single["HOST"], single["PORT"]) == ("db", 5432)
    assert database_config("sqlite:////tmp/x.sqlite3", conn_max_age=0)["NAME"] == "/tmp/x.sqlite3"


def test_transaction_pooling_turns_off_server_side_cursors_and_prepared_statements():
    config = database_config("postgres://u@pgbouncer:6432/db", conn_max_age=60,
                             transaction_pooling=True)  # fmt: skip
    assert config["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert config["OPTIONS"]["prepare_threshold"] is None
    plain = database_config("postgres://u@db:5432/db", conn_max_age=60)
    assert plain["DISABLE_SERVER_SIDE_CURSORS"] is False
    assert "prepare_threshold" not in plain.get("OPTIONS", {})


def test_prepared_statements_bind_on_the_server_and_never_behind_a_transaction_pooler():
    options = database_config("postgres://u@db:5432/db", conn_max_age=60,
                              prepared_statements=True)["OPTIONS"]  # fmt: skip
    assert options["server_side_binding"] is True
    assert options["prepare_threshold"] == PREPARE_THRESHOLD
    pooled = database_config("postgres://u@p:6432/db", conn_max_age=60,
                             transaction_pooling=True, prepared_statements=True)  # fmt: skip
    assert pooled["OPTIONS"]["prepare_threshold"] is None
    assert "server_side_binding" not in pooled["OPTIONS"]
    # SQLite has no such options (it would refuse them)
    sqlite = database_config("sqlite:////tmp/x.sqlite3", conn_max_age=0, prepared_statements=True)
    assert "server_side_binding" not in sqlite.get("OPTIONS", {})


def test_replica_urls_split_between_urls_not_inside_a_host_list():
    multi = "postgres://u@b:1,a:2/db?target_session_attrs=prefer-standby"
    assert split_urls(f"{multi},postgres://u@c:3/db") == [multi, "postgres://u@c:3/db"]
    assert split_urls("postgres://u@a/db,postgres://u@b/db") == [
        "postgres://u@a/db",
        "postgres://u@b/db",
    ]
    assert split_urls(f"{multi} {multi}") == [multi, multi]
    assert split_urls(None) == [] and split_urls("") == []


class _Alias:
    """What ``probe_params`` reads of a Django connection."""

    def __init__(self, settings_dict: dict) -> None:
        self.settings_dict = settings_dict

    def get_connection_params(self) -> dict:
        return {"host": "h", "port": "1", "dbname": "db"}


def test_health_probes_send_no_startup_options_through_a_transaction_pooler():
    # PgBouncer 1.18 refuses the `options` startup parameter: a probe sending it would find
    # every replica "down" behind the pooler
    pooled = probe_params(_Alias(database_config("postgres://u@p:6432/db", conn_max_age=60,
                                                 transaction_pooling=True)))  # fmt: skip
    assert "options" not in pooled
    direct = probe_params(_Alias(database_config("postgres://u@db:5432/db", conn_max_age=60)))
    assert "statement_timeout" in direct["options"]
