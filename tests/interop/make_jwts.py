"""Builds Coinbase WebSocket JWTs with implementations independent of cbbook.

Usage: make_jwts.py KEY_FILE...  (CDP key JSON files: {"name"|"id", "privateKey"|"secret"})

Prints one JSON object: {KEY_FILE: {"name", "alg", "sdk", "pyjwt", "pyjwt_wrong_key"}} where
  sdk             is built by the official SDK, coinbase.jwt_generator.build_ws_jwt(name, secret);
  pyjwt           is built by PyJWT directly, with the key loaded by `cryptography`;
  pyjwt_wrong_key carries this key's name but is signed by a fresh key of the same type (a token
                  every verifier must reject).
"""
import base64
import json
import secrets
import sys
import time

import jwt
from coinbase import jwt_generator
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519


def read_key(path):
    with open(path) as f:
        data = json.load(f)
    name = data.get("name") or data.get("id")
    secret = data.get("privateKey") or data.get("secret")
    return name, secret


def load_private_key(secret):
    """Loads the key with `cryptography` alone (not through the SDK's loader)."""
    if secret.lstrip().startswith("-----BEGIN"):
        return serialization.load_pem_private_key(secret.encode(), password=None)
    raw = base64.b64decode(secret)
    return ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32])


def algorithm_of(key):
    return "EdDSA" if isinstance(key, ed25519.Ed25519PrivateKey) else "ES256"


def pyjwt_token(name, key):
    now = int(time.time())
    claims = {"sub": name, "iss": "cdp", "nbf": now, "exp": now + 120}
    headers = {"kid": name, "nonce": secrets.token_hex(32)}
    return jwt.encode(claims, key, algorithm=algorithm_of(key), headers=headers)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: make_jwts.py KEY_FILE...")
    out = {}
    for path in sys.argv[1:]:
        name, secret = read_key(path)
        key = load_private_key(secret)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            stranger = ed25519.Ed25519PrivateKey.generate()
        else:
            stranger = ec.generate_private_key(ec.SECP256R1())
        out[path] = {
            "name": name,
            "alg": algorithm_of(key),
            "sdk": jwt_generator.build_ws_jwt(name, secret),
            "pyjwt": pyjwt_token(name, key),
            "pyjwt_wrong_key": pyjwt_token(name, stranger),
        }
    print(json.dumps(out))


main()
