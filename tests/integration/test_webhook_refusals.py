"""A delivery refused because its host name resolves inside the network says so without naming the
addresses it resolved to (a worker with WEBHOOK_ALLOW_PRIVATE off)."""

from __future__ import annotations

import ipaddress
import socket
import uuid

import pytest
from recurring_support import eventually
from stack import Api, Worker, own_database, start_broker

pytestmark = pytest.mark.integration


def private_name() -> tuple[str, set[str]]:
    """A host name (not an IP literal, not `localhost`) that resolves only to non-public addresses, and those."""
    for name in (socket.gethostname(), "127.1"):  # "127.1" is a name to a URL parser, 127.0.0.1 to the resolver
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(name, 80, proto=socket.IPPROTO_TCP)}
        except OSError:
            continue
        if addresses and not any(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
            return name, addresses
    raise AssertionError("no name resolving to a non-public address on this machine")


@pytest.fixture(scope="module")
def strict_worker(embedded_pg, tmp_path_factory):
    """Alone with its database and broker: every worker on a database claims its due deliveries, and the
    session worker allows private addresses."""
    with own_database(embedded_pg, "refusals") as url:
        broker = start_broker(tmp_path_factory.mktemp("strict-broker"))
        worker = Worker(database_url=url, broker_url=broker.url, data_dir=tmp_path_factory.mktemp("strict"),
                        extra_env={"WEBHOOK_ALLOW_PRIVATE": "false"})
        try:
            worker.start()
            yield worker
        finally:
            worker.stop()
            broker.stop()


async def test_a_name_resolving_to_a_private_address_is_refused_without_naming_the_address(strict_worker, http):
    name, addresses = private_name()
    api = Api(http, strict_worker.url, f"user-{uuid.uuid4()}")
    status, hook, _ = await api.call("POST", "/api/webhooks",
                                     json_body={"url": f"http://{name}:9/hook", "events": ["task.created"]})
    assert status == 201, hook
    await api.create(title="ping the intranet")

    async def refused():
        _, body, _ = await api.call("GET", f"/api/webhooks/{hook['id']}/deliveries")
        return [d for d in body["deliveries"] if d["last_error"]]

    delivery = (await eventually(refused, what="a refused delivery"))[0]
    assert delivery["last_error"].startswith("refused: resolves to a non-public address"), delivery
    for address in addresses | {"127.0.0.1", "loopback", "private"}:
        assert address not in delivery["last_error"], delivery
