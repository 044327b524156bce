"""Schemathesis hooks for the expense tracker (scripts/openapi.sh schemathesis).

Authentication: one real signup through the edge under test (a fresh e-mail each run), its
access token on every generated request. Operations that need no token ignore it.
"""

import json
import os
import urllib.request
import uuid

import schemathesis


def _signup(base: str) -> str:
    body = json.dumps(
        {
            "email": f"schemathesis-{uuid.uuid4().hex[:12]}@example.com",
            "password": "correct horse battery staple",
            "display_name": "Schemathesis",
        }
    ).encode()
    req = urllib.request.Request(
        f"{base}/v1/auth/signup", data=body, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.load(res)["access_token"]


@schemathesis.auth()
class SignupAuth:
    def get(self, case, ctx):
        return _signup(os.environ["SCHEMATHESIS_BASE_URL"].rstrip("/"))

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
