"""Bearer-token authentication: HS256 JWTs whose `sub` is the user id."""

from __future__ import annotations

import secrets
import time
from functools import lru_cache
from pathlib import Path

import jwt

from streams.settings import Settings, get_settings

from .errors import unauthorized

ALGORITHM = "HS256"
LEEWAY_SECONDS = 10
SECRET_FILE = "jwt-secret"


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


@lru_cache(maxsize=1)
def _verifier() -> tuple[str, Settings]:
    settings = get_settings()
    return signing_secret(settings), settings


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
    secret, settings = _verifier()
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
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
    return sub


def bearer_token(header: str | None) -> str:
    if not header:
        raise unauthorized("authentication required")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()
