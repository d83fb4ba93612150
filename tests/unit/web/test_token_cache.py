"""The cache of verified tokens (web/auth.py): a fake clock, no sleeping, no server."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from streams.settings import from_env
from web import auth
from web.errors import ApiError

SECRET = "unit-tests-secret-0123456789abcdefghij"
ROTATED = "unit-tests-rotated-secret-9876543210zyxw"
KID = "unit-key"


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class LocalKeys(auth.JwksKeys):
    """A key set as PyJWKClient caches it after a fetch of JWT_JWKS_URL (nothing is fetched here)."""

    def __init__(self, *jwks: dict[str, Any]) -> None:
        super().__init__("http://127.0.0.1:9/jwks.json")
        self.serve(*jwks)

    def serve(self, *jwks: dict[str, Any]) -> None:
        """What a refetch that found these keys leaves in the cache."""
        self.client.jwk_set_cache.put({"keys": list(jwks)})


def public_jwk(key: rsa.RSAPrivateKey, kid: str = KID) -> dict[str, Any]:
    return {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig"}


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def hs256(sub: str = "alice", *, secret: str = SECRET, ttl: int = 600, nbf: int | None = None) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "iat": now, "exp": now + ttl}
    if nbf is not None:
        claims["nbf"] = nbf
    return jwt.encode(claims, secret, algorithm="HS256")


def rs256(sub: str = "alice") -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + 600}, RSA_KEY, algorithm="RS256", headers={"kid": KID})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(monkeypatch, clock) -> auth.VerifiedTokens:
    cache = auth.VerifiedTokens(maxsize=3, clock=clock)
    monkeypatch.setattr(auth, "verified_tokens", cache)
    return cache


@pytest.fixture
def verifier(monkeypatch):
    """Point verification at a secret and a key set; returns a function that changes them."""
    settings = from_env({"JWT_SECRET": SECRET})
    current: dict[str, Any] = {"secret": SECRET, "keys": None}
    monkeypatch.setattr(auth, "_verifier", lambda: (current["secret"], settings, current["keys"]))

    def use(*, secret: str | None = SECRET, keys: auth.JwksKeys | None = None) -> None:
        current.update(secret=secret, keys=keys)

    return use


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """The tokens whose signature verification actually ran."""
    seen: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        seen.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(auth.jwt, "decode", counting)
    return seen


def rejection(token: str) -> str:
    with pytest.raises(ApiError) as raised:
        auth.verify_token(token)
    assert raised.value.status == 401
    return raised.value.message.split(";")[0]  # without the hint on how to get a token


def test_a_token_used_again_is_answered_from_the_cache_without_verifying_its_signature_again(cache, verifier, decodes):
    token = hs256("alice")
    assert auth.verify_token(token) == "alice"
    assert auth.verify_token(token) == "alice"
    assert auth.verify_token(token) == "alice"
    assert decodes == [token]


def test_a_cached_token_is_rejected_once_it_expires(cache, verifier, clock):
    token = hs256("alice", ttl=60)
    assert auth.verify_token(token) == "alice"
    clock.now = time.time() + 60 + auth.LEEWAY_SECONDS - 1  # still within the leeway verification allows
    assert auth.verify_token(token) == "alice"
    clock.now = time.time() + 60 + auth.LEEWAY_SECONDS + 1
    assert rejection(token) == "the token has expired"
    assert token not in cache


def test_a_cached_token_is_never_accepted_before_its_not_before_time(cache, verifier, clock):
    nbf = int(time.time()) + 5  # in the future, but within the leeway: accepted now
    token = hs256("alice", nbf=nbf)
    assert auth.verify_token(token) == "alice"
    clock.now = nbf - auth.LEEWAY_SECONDS - 1
    assert rejection(token) == "the token is not valid yet"


def test_a_failed_verification_is_not_cached(cache, verifier, decodes):
    forged = hs256("alice", secret=ROTATED)
    expired = hs256("bob", ttl=-3600)
    for _ in range(2):
        assert rejection(forged) == "the token's signature does not verify"
        assert rejection(expired) == "the token has expired"
    assert len(cache) == 0
    assert decodes == [forged, expired, forged, expired]


def test_a_token_whose_subject_is_unusable_is_not_cached(cache, verifier):
    token = hs256("x" * 256)
    assert "'sub' claim" in rejection(token)
    assert len(cache) == 0


def test_a_new_hs256_secret_empties_the_cache(cache, verifier):
    token = hs256("alice")
    assert auth.verify_token(token) == "alice"
    verifier(secret=ROTATED)
    assert rejection(token) == "the token's signature does not verify"
    assert len(cache) == 0


def test_a_refetched_key_set_with_other_keys_empties_the_cache(cache, verifier):
    keys = LocalKeys(public_jwk(RSA_KEY))
    verifier(keys=keys)
    token, other = rs256("alice"), hs256("bob")
    assert auth.verify_token(token) == "alice"
    assert auth.verify_token(other) == "bob"
    keys.serve(public_jwk(OTHER_RSA_KEY))  # the issuer rotated its key under the same kid
    assert rejection(token) == "the token's signature does not verify"
    assert len(cache) == 0


def test_a_refetch_that_brings_the_same_keys_keeps_the_cache(cache, verifier, decodes):
    keys = LocalKeys(public_jwk(RSA_KEY))
    verifier(keys=keys)
    token = rs256("alice")
    assert auth.verify_token(token) == "alice"
    keys.serve(public_jwk(RSA_KEY))
    assert auth.verify_token(token) == "alice"
    assert decodes == [token]


def test_a_key_set_that_expired_unrefreshed_empties_the_cache(cache, verifier):
    keys = LocalKeys(public_jwk(RSA_KEY))
    verifier(keys=keys)
    token = rs256("alice")
    assert auth.verify_token(token) == "alice"
    keys.client.jwk_set_cache.put(None)  # what an expired, not yet refetched set looks like to a reader
    assert "not in the key set at JWT_JWKS_URL" in rejection(token)
    assert len(cache) == 0


def test_the_cache_keeps_at_most_maxsize_tokens_dropping_the_least_recently_used(cache, verifier, decodes):
    tokens = [hs256(f"user-{n}") for n in range(4)]
    for token in tokens[:3]:
        auth.verify_token(token)
    auth.verify_token(tokens[0])  # used again: now the most recent
    auth.verify_token(tokens[3])  # one over the bound: user-1 goes
    assert len(cache) == 3
    assert tokens[1] not in cache
    assert all(token in cache for token in (tokens[0], tokens[2], tokens[3]))
    assert decodes == tokens[:3] + [tokens[3]]
