"""NetSuite's two ways to authenticate REST calls, as httpx auth flows.

- Token-based auth (OAuth 1.0a, HMAC-SHA256), signed by authlib's OAuth 1.0a
  core. The URL's query parameters (limit, offset) are in the base string;
  the JSON body is not, and no body hash is sent.
- OAuth 2.0 client credentials: a JWT signed with the integration's private
  key (PS256 or ES256) is exchanged at the token endpoint for a bearer token,
  which is reused until shortly before it expires.

Both keep their secrets in private attributes that no repr, log or error shows.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import AsyncGenerator, Generator
from urllib.parse import urlsplit

import httpx
from authlib.oauth1 import ClientAuth
from authlib.oauth1.rfc5849.signature import generate_signature_base_string
from authlib.oauth1.rfc5849.util import escape
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from joserfc.jwk import ECKey, RSAKey

log = logging.getLogger(__name__)

TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_ALGORITHMS = ("PS256", "ES256")
# A token is renewed this long before NetSuite says it expires, so a page
# fetched late in its life is not refused mid-run.
TOKEN_RENEWAL_MARGIN_SECONDS = 60


class NetSuiteAuthError(Exception):
    """NetSuite refused to issue a token; the message carries its error code, no secret."""


def netsuite_host(account_id: str) -> str:
    """Returns the REST host label of an account id (`1234567_SB1` -> `1234567-sb1`)."""
    return account_id.strip().lower().replace("_", "-")


def netsuite_realm(account_id: str) -> str:
    """Returns the OAuth realm of an account id (`1234567-sb1` -> `1234567_SB1`)."""
    return account_id.strip().upper().replace("-", "_")


def netsuite_base_url(account_id: str) -> str:
    """Returns the REST base URL of an account (`https://1234567-sb1.suitetalk...`)."""
    return f"https://{netsuite_host(account_id)}.suitetalk.api.netsuite.com"


def _sign_hmac_sha256(client: ClientAuth, request) -> str:
    base_string = generate_signature_base_string(request)
    key = f"{escape(client.client_secret or '')}&{escape(client.token_secret or '')}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class _Signer(ClientAuth):
    SIGNATURE_METHODS = {**ClientAuth.SIGNATURE_METHODS, "HMAC-SHA256": _sign_hmac_sha256}

    def __repr__(self) -> str:
        return f"_Signer(realm={self.realm!r})"


class TokenBasedAuth(httpx.Auth):
    """Signs each request with OAuth 1.0a HMAC-SHA256; every call gets a fresh nonce.

    authlib's own httpx integration sends an empty body for non-form requests,
    so the signature comes from authlib's core and the body goes out untouched.
    """

    def __init__(
        self, account_id: str, consumer_key: str, consumer_secret: str, token_id: str,
        token_secret: str,
    ):
        self._signer = _Signer(
            client_id=consumer_key,
            client_secret=consumer_secret,
            token=token_id,
            token_secret=token_secret,
            signature_method="HMAC-SHA256",
            realm=netsuite_realm(account_id),
        )

    def __repr__(self) -> str:
        return f"TokenBasedAuth(realm={self._signer.realm!r})"

    def authorization(self, method: str, url: str) -> str:
        """Returns the Authorization header for a request (a new nonce each call)."""
        _, headers, _ = self._signer.sign(method, url, {}, b"")
        return headers["Authorization"]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.authorization(request.method, str(request.url))
        yield request


class ClientCredentialsAuth(httpx.Auth):
    """OAuth 2.0 client credentials with a signed JWT; the bearer token is cached.

    `token_url` is NetSuite's token endpoint, which is also the JWT's audience.
    A 401 on a call drops the cached token, so the caller's one retry gets a
    new one.
    """

    def __init__(
        self, token_url: str, client_id: str, certificate_id: str, private_key_pem: str,
        algorithm: str = "PS256", clock=time.time,
    ):
        if algorithm not in JWT_ALGORITHMS:
            raise ValueError(f"NetSuite client credentials take {JWT_ALGORITHMS}, not {algorithm}")
        key_type = ECKey if algorithm.startswith("ES") else RSAKey
        self.token_url = token_url
        self.client_id = client_id
        self.certificate_id = certificate_id
        self.algorithm = algorithm
        self.tokens_fetched = 0
        self._key = key_type.import_key(private_key_pem)
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._thread_lock = threading.Lock()
        self._async_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth(client_id=..., algorithm={self.algorithm!r})"

    def _valid_token(self) -> str | None:
        if self._token and self._clock() < self._expires_at - TOKEN_RENEWAL_MARGIN_SECONDS:
            return self._token
        return None

    def client_assertion(self) -> str:
        """Returns a JWT that proves the client holds the private key (valid 5 minutes)."""
        return private_key_jwt_sign(
            self._key,
            client_id=self.client_id,
            token_endpoint=self.token_url,
            alg=self.algorithm,
            claims={"scope": "rest_webservices"},
            header={"typ": "JWT", "kid": self.certificate_id},
            issued_at=int(self._clock()),
            expires_in=300,
        )

    def token_request(self) -> httpx.Request:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.client_assertion(),
        }
        return httpx.Request("POST", self.token_url, data=form)

    def store_token(self, response: httpx.Response) -> str:
        """Caches the token from the endpoint's reply, or raises with NetSuite's error code."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or "access_token" not in body:
            error = body.get("error") or f"HTTP {response.status_code}"
            detail = body.get("error_description") or ""
            raise NetSuiteAuthError(
                f"NetSuite refused the client-credentials token request: {error} {detail}".strip()
            )
        # The contract leaves open whether expires_in is a string or a number.
        lifetime = float(body.get("expires_in") or 3600)
        self._token = str(body["access_token"])
        self._expires_at = self._clock() + lifetime
        self.tokens_fetched += 1
        log.info("fetched a NetSuite access token valid for %d s", lifetime)
        return self._token

    def _sign(self, request: httpx.Request, token: str) -> None:
        request.headers["Authorization"] = f"Bearer {token}"

    def _forget(self, token: str) -> None:
        if self._token == token:
            self._token = None

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        with self._thread_lock:
            token = self._valid_token()
            if token is None:
                response = yield self.token_request()
                response.read()
                token = self.store_token(response)
        self._sign(request, token)
        response = yield request
        if response.status_code == 401:
            self._forget(token)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        loop = asyncio.get_running_loop()
        if self._async_lock is None or self._async_lock[0] is not loop:
            self._async_lock = (loop, asyncio.Lock())
        async with self._async_lock[1]:
            token = self._valid_token()
            if token is None:
                response = yield self.token_request()
                await response.aread()
                token = self.store_token(response)
        self._sign(request, token)
        response = yield request
        if response.status_code == 401:
            self._forget(token)


def token_url_for(base_url: str) -> str:
    """Returns the token endpoint on the same host as the REST base URL."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}{TOKEN_PATH}"
