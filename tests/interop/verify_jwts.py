"""Verifies JWTs built by cbbook with PyJWT, against keys loaded independently by `cryptography`.

Reads a JSON list on stdin: [{"token", "key_file", "public_pem", "uri"}] where key_file is the CDP
key JSON the token was built from, public_pem the path of the public key cbbook printed for it,
and uri the expected REST uri claim (null for a WebSocket token).

For each token checks: the header is exactly {alg, kid, nonce, typ} with the right alg, kid = the
key name, typ = JWT and a hex nonce of at least 16 bytes; jwt.decode() with the public key derived
from the private key accepts it (signature, nbf, exp, iss = cdp); nbf and exp are JSON integers with
exp = nbf + 120 and nbf close to now; sub = the key name; uri as expected; cbbook's public key PEM
is the same key; and a copy with one signature character changed is rejected.

Prints a JSON list of {"key_file", "ok", "error", "header", "claims"}; exits 1 if any failed.
"""
import base64
import json
import string
import sys
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519


def read_key(path):
    with open(path) as f:
        data = json.load(f)
    return data.get("name") or data.get("id"), data.get("privateKey") or data.get("secret")


def public_key_of(secret):
    if secret.lstrip().startswith("-----BEGIN"):
        private = serialization.load_pem_private_key(secret.encode(), password=None)
    else:
        raw = base64.b64decode(secret)
        private = ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32])
    return private.public_key()


def spki(public):
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check(item):
    name, secret = read_key(item["key_file"])
    public = public_key_of(secret)
    alg = "EdDSA" if isinstance(public, ed25519.Ed25519PublicKey) else "ES256"
    token = item["token"]

    header = jwt.get_unverified_header(token)
    assert sorted(header) == ["alg", "kid", "nonce", "typ"], f"header fields {sorted(header)}"
    assert header["alg"] == alg, f"alg {header['alg']!r}, expected {alg}"
    assert header["kid"] == name, f"kid {header['kid']!r}, expected {name!r}"
    assert header["typ"] == "JWT", f"typ {header['typ']!r}"
    nonce = header["nonce"]
    assert len(nonce) >= 32 and all(c in string.hexdigits for c in nonce), f"nonce {nonce!r}"

    claims = jwt.decode(
        token,
        public,
        algorithms=[alg],
        issuer="cdp",
        options={"require": ["sub", "iss", "nbf", "exp"]},
    )
    for field in ("nbf", "exp"):
        assert type(claims[field]) is int, f"{field} is {type(claims[field]).__name__}"
    assert claims["exp"] - claims["nbf"] == 120, "exp != nbf + 120"
    assert abs(claims["nbf"] - time.time()) < 60, "nbf is not now"
    assert claims["sub"] == name, f"sub {claims['sub']!r}"
    if item.get("uri") is None:
        assert "uri" not in claims, "a WebSocket token carries uri"
    else:
        assert claims.get("uri") == item["uri"], f"uri {claims.get('uri')!r}"
    expected_fields = {"sub", "iss", "nbf", "exp"} | ({"uri"} if item.get("uri") else set())
    assert set(claims) == expected_fields, f"claims fields {sorted(claims)}"

    with open(item["public_pem"], "rb") as f:
        ours = serialization.load_pem_public_key(f.read())
    assert spki(ours) == spki(public), "cbbook's public key PEM is not this key's"

    head, body, sig = token.split(".")
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    try:
        jwt.decode(f"{head}.{body}.{flipped}", public, algorithms=[alg], issuer="cdp")
    except jwt.InvalidSignatureError:
        pass
    else:
        raise AssertionError("a token with a changed signature was accepted")
    return header, claims


def main():
    items = json.load(sys.stdin)
    results = []
    for item in items:
        try:
            header, claims = check(item)
            results.append({"key_file": item["key_file"], "ok": True, "error": None,
                            "header": header, "claims": claims})
        except Exception as e:  # report every failure, not just the first
            results.append({"key_file": item["key_file"], "ok": False,
                            "error": f"{type(e).__name__}: {e}", "header": None, "claims": None})
    print(json.dumps(results))
    sys.exit(0 if results and all(r["ok"] for r in results) else 1)


main()
