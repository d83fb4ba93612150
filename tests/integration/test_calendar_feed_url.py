"""The secret feed URL names this server: X-Forwarded-Proto/-Host count only from TRUSTED_PROXIES."""

from __future__ import annotations

import uuid

import pytest
from stack import Api, Worker

pytestmark = pytest.mark.integration

SPOOFED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}


async def feed_url(api, headers: dict[str, str] | None = None) -> str:
    status, created, _ = await api.call("POST", "/api/calendar/token", headers=headers)
    assert status == 201, created
    assert created["url"].endswith(created["path"])
    return created["url"]


async def test_forwarded_headers_from_an_untrusted_client_do_not_change_the_feed_url(api):
    url = await feed_url(api, SPOOFED)
    assert url.startswith(f"{api.base}/calendar/"), url


@pytest.fixture(scope="module")
def proxied_worker(postgres, broker, tmp_path_factory):
    """A worker that trusts 127.0.0.1, where the test connects from, as its proxy."""
    worker = Worker(database_url=postgres, broker_url=broker.url, data_dir=tmp_path_factory.mktemp("proxied"),
                    extra_env={"TRUSTED_PROXIES": "127.0.0.1"})
    worker.start()
    yield worker
    worker.stop()


async def test_forwarded_headers_from_a_trusted_proxy_name_the_public_address(proxied_worker, http):
    api = Api(http, proxied_worker.url, f"user-{uuid.uuid4()}")
    assert (await feed_url(api, SPOOFED)).startswith("https://evil.example/calendar/")
    assert (await feed_url(api, {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "tasks.example, inner"})
            ).startswith("https://tasks.example/calendar/")
    assert (await feed_url(api)).startswith(f"{proxied_worker.url}/calendar/"), "no headers: this server's own"


async def test_a_trusted_proxy_naming_an_odd_scheme_or_host_is_not_believed(proxied_worker, http):
    api = Api(http, proxied_worker.url, f"user-{uuid.uuid4()}")
    url = await feed_url(api, {"X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "a b/c"})
    assert url.startswith(f"{proxied_worker.url}/calendar/"), url
