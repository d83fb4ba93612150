"""Bearer-token authentication: JWTs whose `sub` is the user id; HS256 with JWT_SECRET, RS256 from JWT_JWKS_URL."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import jwt
from aiohttp import web

from streams.settings import Settings, get_settings

from .errors import unauthorized

log = logging.getLogger("taskstream.auth")

ALGORITHM = "HS256"
JWKS_ALGORITHM = "RS256"
LEEWAY_SECONDS = 10
SECRET_FILE = "jwt-secret"
#: An `alg` or `kid` short and plain enough to quote back in an error message.
QUOTABLE = re.compile(r"^[A-Za-z0-9._-]{1,40}$")


class MissingSecret(RuntimeError):
    pass


def secret_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / SECRET_FILE


def ensure_dev_secret(data_dir: str | Path) -> str:
    """Dev mode: generate the signing secret once and keep it in the data folder."""
    path = secret_path(data_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def signing_secret(settings: Settings) -> str:
    """JWT_SECRET, or the secret `taskstream dev` keeps in DATA_DIR."""
    if settings.jwt_secret:
        return settings.jwt_secret
    path = secret_path(settings.data_dir)
    if path.exists():
        return path.read_text().strip()
    raise MissingSecret(
        f"JWT_SECRET is not set and there is no {path} from `taskstream dev`; "
        "set JWT_SECRET (at least 32 random characters) or point DATA_DIR at the dev data folder"
    )


class JwksKeys:
    """RS256 public keys from JWT_JWKS_URL, held in PyJWKClient's cache (refetched after LIFESPAN seconds,
    or for an unknown key id at most once per COOLDOWN seconds).

    PyJWKClient fetches with blocking I/O, so fetching happens only in `refresh`, on a thread, awaited
    by the middleware before the request is authenticated; verifying reads the cache and never blocks."""

    LIFESPAN = 300.0
    TIMEOUT = 5.0
    COOLDOWN = 30.0

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=self.LIFESPAN, timeout=self.TIMEOUT,
                                      cooldown_duration=self.COOLDOWN)
        self._next_warning = 0.0

    def key_set(self) -> jwt.PyJWKSet | None:
        """The key set as cached now: None before the first fetch and once it is older than LIFESPAN."""
        return self.client.jwk_set_cache.get() if self.client.jwk_set_cache is not None else None

    def cached(self, kid: object) -> jwt.PyJWK | None:
        jwk_set = self.key_set()
        if jwk_set is None or not isinstance(kid, str):
            return None
        return next((key for key in jwk_set.keys if key.key_id == kid and key.public_key_use in ("sig", None)), None)

    async def refresh(self, token: str) -> None:
        """Make sure the key an RS256 `token` names is cached, fetching the key set if it is not."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            return  # verification will say what is wrong with it
        kid = header.get("kid")
        if header.get("alg") != JWKS_ALGORITHM or not isinstance(kid, str) or self.cached(kid) is not None:
            return
        try:
            await asyncio.to_thread(self.client.get_signing_key, kid)
        except jwt.PyJWKClientError as exc:
            # An unknown key id is the client's problem (it gets a 401); an unreachable key set is ours.
            if isinstance(exc, jwt.PyJWKClientConnectionError) and time.monotonic() >= self._next_warning:
                self._next_warning = time.monotonic() + self.COOLDOWN
                log.warning("cannot fetch the JWT key set from JWT_JWKS_URL (%s); RS256 tokens get 401 "
                            "until it answers", type(exc.__cause__ or exc).__name__)


@lru_cache(maxsize=1)
def jwks_keys() -> JwksKeys | None:
    """The key set at JWT_JWKS_URL, when one is configured."""
    url = get_settings().jwt_jwks_url
    return JwksKeys(url) if url else None


@lru_cache(maxsize=1)
def _verifier() -> tuple[str | None, Settings, JwksKeys | None]:
    settings = get_settings()
    keys = jwks_keys()
    try:
        secret = signing_secret(settings)
    except MissingSecret:
        if keys is None:
            raise
        secret = None  # RS256 tokens from the key set only
    return secret, settings, keys


def _key_set_fingerprint(jwk_set: jwt.PyJWKSet | None) -> frozenset[str] | None:
    """What the key set says, independent of which fetch produced it (each fetch builds new objects)."""
    if jwk_set is None:
        return None
    # PyJWK keeps the JWK it was built from only privately; without it, fall back to the object's identity.
    return frozenset(json.dumps(getattr(key, "_jwk_data", None) or {"object": id(key)}, sort_keys=True, default=str)
                     for key in jwk_set.keys)


class VerifiedTokens:
    """The user ids of recently verified tokens, so a client sending the same token on every request
    pays for one signature check: least recently used first out beyond `maxsize` entries.

    An entry answers only inside its token's validity window as verification judges it (nbf and iat
    to exp, with the same leeway); outside it, the answer is the error verification would give.
    Failures are never stored. Any change of what verification depends on - the HS256 secret, the
    JWKS key set (a refetch that brings other keys, or the cached set expiring), the issuer or the
    audience - empties the cache before it answers."""

    def __init__(self, maxsize: int = 4096, clock: Callable[[], float] = time.time) -> None:
        self.maxsize = maxsize
        self.clock = clock  # the wall clock, as PyJWT judges exp and nbf
        self._entries: OrderedDict[str, tuple[str, float, float]] = OrderedDict()
        self._inputs: tuple[object, ...] | None = None
        self._fingerprint: tuple[object, ...] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, token: object) -> bool:
        return token in self._entries

    def clear(self) -> None:
        self._entries.clear()

    def check_keys(self, secret: str | None, settings: Settings, keys: JwksKeys | None) -> None:
        """Empty the cache if the keys or settings differ from the last call's. Cheap when nothing changed:
        the key set is compared by identity first, by content only when another object holds it."""
        inputs = (secret, settings.jwt_issuer, settings.jwt_audience, keys.key_set() if keys is not None else None)
        if inputs == self._inputs:
            return
        fingerprint = (*inputs[:3], _key_set_fingerprint(inputs[3]))
        if fingerprint != self._fingerprint:
            if self._entries:
                log.info("the JWT keys or settings changed: forgetting %d verified tokens", len(self._entries))
            self._entries.clear()
            self._fingerprint = fingerprint
        self._inputs = inputs

    def get(self, token: str) -> str | None:
        """The user id of a cached token still inside its window; None when not cached; raises ApiError(401)
        for a cached token outside its window."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        sub, not_before, expires = entry
        now = self.clock()
        if now < not_before:
            raise unauthorized("the token is not valid yet")
        if now >= expires:
            del self._entries[token]
            raise unauthorized("the token has expired")
        self._entries.move_to_end(token)
        return sub

    def put(self, token: str, sub: str, claims: dict[str, object]) -> None:
        """Remember a token verification accepted, with the window PyJWT applies (see _validate_exp/_nbf/_iat)."""
        starts = [int(claims[claim]) for claim in ("nbf", "iat") if claim in claims]  # type: ignore[call-overload]
        not_before = max(starts) - LEEWAY_SECONDS if starts else float("-inf")
        self._entries[token] = (sub, not_before, int(claims["exp"]) + LEEWAY_SECONDS)  # type: ignore[call-overload]
        self._entries.move_to_end(token)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)


verified_tokens = VerifiedTokens()


def presented_tokens(request: web.Request) -> list[str]:
    """The tokens a request carries: in the Authorization header, or for a WebSocket the `token`
    parameter or the `bearer, <token>` subprotocol."""
    found = []
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        found.append(token.strip())
    if request.query.get("token"):
        found.append(request.query["token"])
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    if len(offered) == 2 and offered[0].lower() == "bearer":
        found.append(offered[1])
    return found


def issue_token(user_id: str, *, ttl: int, settings: Settings | None = None, now: float | None = None) -> str:
    settings = settings or get_settings()
    issued = int(now if now is not None else time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": issued, "nbf": issued, "exp": issued + ttl}
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, signing_secret(settings), algorithm=ALGORITHM)


def verify_token(token: str) -> str:
    """The user id in a valid token; raises ApiError(401) saying what is wrong, never echoing the token."""
    secret, settings, keys = _verifier()
    verified_tokens.check_keys(secret, settings, keys)
    sub = verified_tokens.get(token)
    if sub is not None:
        return sub
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise unauthorized("the token is malformed (not a signed JWT)") from None
    algorithm = header.get("alg")
    accepted = ", ".join(a for a, ok in ((ALGORITHM, secret is not None), (JWKS_ALGORITHM, keys is not None)) if ok)
    if keys is not None and algorithm == JWKS_ALGORITHM:
        key = keys.cached(header.get("kid"))
        if key is None:
            kid = header.get("kid")
            named = f"key {kid!r}" if isinstance(kid, str) and QUOTABLE.match(kid) else "its key"
            raise unauthorized(f"the token names {named}, which is not in the key set at JWT_JWKS_URL "
                               "(or the key set could not be fetched)")
        verification_key: object = key.key
    elif algorithm == ALGORITHM and secret is not None:
        verification_key = secret
    else:
        named = repr(algorithm) if isinstance(algorithm, str) and QUOTABLE.match(algorithm) else "an algorithm"
        raise unauthorized(f"the token is signed with {named}, which this server does not accept (accepted: "
                           f"{accepted})")
    try:
        claims = jwt.decode(
            token,
            verification_key,
            algorithms=[algorithm],
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=LEEWAY_SECONDS,
            options={"require": ["sub", "exp"], "verify_aud": settings.jwt_audience is not None},
        )
    except jwt.ExpiredSignatureError:
        raise unauthorized("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise unauthorized("the token is not valid yet") from None
    except jwt.MissingRequiredClaimError as exc:
        raise unauthorized(f"the token has no '{exc.claim}' claim") from None
    except jwt.InvalidAudienceError:
        raise unauthorized("the token is for another audience") from None
    except jwt.InvalidIssuerError:
        raise unauthorized("the token is from another issuer") from None
    except jwt.InvalidSignatureError:
        raise unauthorized("the token's signature does not verify") from None
    except jwt.InvalidTokenError:
        raise unauthorized("the token is malformed or uses an unsupported algorithm") from None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
        raise unauthorized("the token's 'sub' claim must be a user id of 1-255 characters")
    verified_tokens.put(token, sub, claims)
    return sub


def bearer_token(header: str | None) -> str:
    if not header:
        raise unauthorized("authentication required")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def refused_after(token: str) -> float:
    """When (epoch seconds) verify_token starts refusing a token it has accepted: its `exp` plus the leeway.
    Only for a token verify_token accepted, so the claim is trusted."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return float(claims["exp"]) + LEEWAY_SECONDS
