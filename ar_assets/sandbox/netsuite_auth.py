"""The sandbox NetSuite's two ways in: token-based auth (OAuth 1.0a, HMAC-SHA256)
and OAuth 2.0 client credentials (a signed JWT exchanged for a bearer token).

Both follow contract sections 1.6 and 1.7 of shared/reference/api_contracts.md.
The checks are written from the specifications, not from the client's code, so
a client bug cannot hide behind a matching server bug.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_ALGORITHMS = ("PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
TIMESTAMP_WINDOW_SECONDS = 300
MAX_ASSERTION_SECONDS = 3600  # NetSuite refuses assertions valid for longer


def _sandbox_private_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@dataclass
class SandboxCredentials:
    """The identities the sandbox accepts (sandbox values, never real secrets).

    Token-based auth: consumer key/secret and token id/secret. Client
    credentials: the client id, the certificate id of the M2M mapping, and a
    key pair whose private half the client signs with (EC P-256 unless a test
    passes an RSA key for PS256).
    """

    account_id: str = "1234567_SB1"
    consumer_key: str = "sandbox-consumer-key"
    consumer_secret: str = "sandbox-consumer-secret"
    token_id: str = "sandbox-token-id"
    token_secret: str = "sandbox-token-secret"
    client_id: str = "sandbox-m2m-client-id"
    certificate_id: str = "sandbox-certificate-id"
    private_key_pem: str = field(default_factory=_sandbox_private_key, repr=False)


def pct(value: str) -> str:
    """Returns RFC 3986 percent-encoding (uppercase hex, space as %20)."""
    return quote(value, safe="~-._")


def signature_base_string(method: str, base_uri: str, params: list[tuple[str, str]]) -> str:
    """Returns the OAuth 1.0a base string from decoded parameters."""
    normalized = "&".join(f"{k}={v}" for k, v in sorted((pct(k), pct(v)) for k, v in params))
    return "&".join([method.upper(), pct(base_uri), pct(normalized)])


def hmac_sha256_signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    """Returns the base64 HMAC-SHA256 signature of a base string."""
    key = f"{pct(consumer_secret)}&{pct(token_secret)}".encode()
    digest = hmac.new(key, base_string.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def parse_oauth_header(header: str) -> dict[str, str]:
    """Returns the decoded parameters of an `Authorization: OAuth ...` header."""
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "oauth":
        return {}
    pairs = re.findall(r'([\w-]+)\s*=\s*"([^"]*)"', rest)
    return {unquote(k): unquote(v) for k, v in pairs}


class TokenAuthority:
    """Checks OAuth 1.0a signatures and issues and checks OAuth 2.0 bearer tokens."""

    def __init__(self, credentials: SandboxCredentials, token_lifetime: int = 3600):
        self.credentials = credentials
        self.token_lifetime = token_lifetime
        self.tokens_issued = 0
        self._nonces: set[str] = set()
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        private = credentials.private_key_pem
        self._public_key = (
            ECKey.import_key(private) if "EC" in _key_kind(private) else RSAKey.import_key(private)
        )

    def mark_nonce_used(self, nonce: str) -> None:
        with self._lock:
            self._nonces.add(nonce)

    def check_oauth1(
        self, header: str, method: str, base_uri: str, query: list[tuple[str, str]]
    ) -> str:
        """Returns why a TBA header fails, checked in NetSuite's order, or '' when it passes."""
        creds = self.credentials
        oauth = parse_oauth_header(header)
        if not oauth:
            return "missing Authorization header"
        if oauth.get("realm") != creds.account_id:
            return "wrong realm"
        if (oauth.get("oauth_consumer_key"), oauth.get("oauth_token")) != (
            creds.consumer_key,
            creds.token_id,
        ):
            return "unknown consumer or token"
        if oauth.get("oauth_signature_method") != "HMAC-SHA256":
            return "signature method is not HMAC-SHA256"
        nonce = oauth.get("oauth_nonce", "")
        with self._lock:
            if len(nonce) < 6 or nonce in self._nonces:
                return "nonce reused or shorter than 6 characters"
            self._nonces.add(nonce)
        try:
            skew = abs(time.time() - int(oauth.get("oauth_timestamp", "")))
        except ValueError:
            return "timestamp is not a number"
        if skew > TIMESTAMP_WINDOW_SECONDS:
            return "timestamp outside the window"
        params = [(k, v) for k, v in oauth.items() if k.startswith("oauth_")]
        params = [(k, v) for k, v in params if k != "oauth_signature"] + query
        base = signature_base_string(method, base_uri, params)
        expected = hmac_sha256_signature(base, creds.consumer_secret, creds.token_secret)
        if not hmac.compare_digest(expected, oauth.get("oauth_signature", "")):
            return "signature mismatch"
        return ""

    def check_bearer(self, token: str) -> str:
        """Returns why a bearer token fails, or '' when it is known and unexpired."""
        with self._lock:
            expires_at = self._tokens.get(token)
        if expires_at is None:
            return "unknown bearer token"
        if time.time() >= expires_at:
            return "bearer token expired"
        return ""

    def issue_token(self, form: dict[str, str], token_url: str) -> tuple[int, dict]:
        """Answers a client-credentials token request: (status, JSON body)."""
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return 400, {"error": "invalid_request",
                         "error_description": "client_assertion_type must be jwt-bearer"}
        problem = self._assertion_problem(form.get("client_assertion", ""), token_url)
        if problem:
            return 400, {"error": "invalid_client", "error_description": problem}
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.time() + self.token_lifetime
            self.tokens_issued += 1
        # The contract leaves the type of expires_in open; NetSuite is seen sending a string.
        return 200, {"access_token": token, "token_type": "bearer",
                     "expires_in": str(self.token_lifetime)}

    def _assertion_problem(self, assertion: str, token_url: str) -> str:
        creds = self.credentials
        try:
            token = jwt.decode(assertion, self._public_key, algorithms=list(JWT_ALGORITHMS))
        except (JoseError, ValueError) as error:
            return f"assertion signature or algorithm refused: {type(error).__name__}"
        header, claims = token.header, token.claims
        if header.get("kid") != creds.certificate_id:
            return "kid is not the certificate id of an M2M mapping"
        if claims.get("iss") != creds.client_id:
            return "iss is not a known client id"
        if claims.get("aud") != token_url and token_url not in (claims.get("aud") or []):
            return "aud is not the token endpoint"
        if "rest_webservices" not in str(claims.get("scope", "")).replace(",", " ").split():
            return "scope lacks rest_webservices"
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int | float) or not isinstance(exp, int | float):
            return "iat and exp are required"
        if exp - iat > MAX_ASSERTION_SECONDS or exp <= now or iat > now + 300:
            return "assertion expired or valid for more than an hour"
        return ""


def _key_kind(pem: str) -> str:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    return "EC" if isinstance(key, ec.EllipticCurvePrivateKey) else "RSA"
