"""CLICKHOUSE_CLUSTER: read with the other settings, carried to every Warehouse built from
them as the warehouse URL's ``cluster`` option."""
from __future__ import annotations

import pytest

from analytics.warehouse import Warehouse
from core.settings import ConfigurationError, load_settings

SERVER = "clickhouse://loader:secret@ch-node-1:8123/shoplens"


def test_a_cluster_is_carried_to_the_warehouse(home):
    settings = load_settings({"SHOPLENS_HOME": str(home), "WAREHOUSE_URL": SERVER,
                              "CLICKHOUSE_CLUSTER": "shoplens"})
    assert settings.warehouse_url == f"{SERVER}?cluster=shoplens"
    warehouse = Warehouse(settings.warehouse_url)
    assert (warehouse.kind, warehouse.cluster, warehouse.ch_database(3)) == \
        ("clickhouse", "shoplens", "shoplens_v000003")
    with_options = load_settings({"SHOPLENS_HOME": str(home), "CLICKHOUSE_CLUSTER": "eu",
                                  "WAREHOUSE_URL": f"{SERVER}?secure=1"})
    assert with_options.warehouse_url == f"{SERVER}?secure=1&cluster=eu"


def test_unset_means_one_server(home):
    settings = load_settings({"SHOPLENS_HOME": str(home), "WAREHOUSE_URL": SERVER,
                              "CLICKHOUSE_CLUSTER": " "})
    assert settings.warehouse_url == SERVER
    assert Warehouse(settings.warehouse_url).cluster is None


@pytest.mark.parametrize(("url", "cluster", "message"), [
    (None, "shoplens", "needs a clickhouse:// WAREHOUSE_URL"),
    ("chdb:///var/warehouse", "shoplens", "needs a clickhouse:// WAREHOUSE_URL"),
    ("postgresql://u@db/shop", "shoplens", "needs a clickhouse:// WAREHOUSE_URL"),
    (SERVER, "shop-eu", "not a plain name"),
    (f"{SERVER}?cluster=a", "b", "not both"),
])
def test_a_cluster_the_warehouse_cannot_use_is_refused(home, url, cluster, message):
    environ = {"SHOPLENS_HOME": str(home), "CLICKHOUSE_CLUSTER": cluster}
    if url:
        environ["WAREHOUSE_URL"] = url
    with pytest.raises(ConfigurationError, match=message):
        load_settings(environ)
