"""hmall's JwtTool: RS256 tokens with claim `user` (the user id) and a TTL, read from the raw `authorization` header,
with the original's three refusals. Expiry is judged on the sandbox clock, so a clock jump expires tokens."""
from __future__ import annotations

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .wire import BAD_TOKEN, NOT_LOGGED_IN, TOKEN_EXPIRED, HmallError


def new_key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def create_token(user_id: int, now: float, ttl_s: float, private_key_pem: str) -> str:
    return jwt.encode({"user": user_id, "exp": int(now + ttl_s)}, private_key_pem, algorithm="RS256")


def parse_token(token: str | None, now: float, public_key_pem: str) -> int:
    """The user id of a valid token; HmallError 401 as the original's JwtTool words it otherwise."""
    if token is None:  # the original tests `token == null`: an empty header is a token, and not a valid one
        raise HmallError(401, NOT_LOGGED_IN)
    try:
        claims = jwt.decode(token, public_key_pem, algorithms=["RS256"],
                            options={"verify_exp": False, "require": ["exp"]})
    except jwt.PyJWTError:
        raise HmallError(401, BAD_TOKEN) from None
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp <= now:
        raise HmallError(401, TOKEN_EXPIRED)
    user = claims.get("user")
    try:
        return int(str(user))
    except ValueError:
        raise HmallError(401, BAD_TOKEN) from None
