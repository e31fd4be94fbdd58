"""The verifier's own canonical request and string to sign are botocore's, character for character, for
whatever a client may send: header values with runs of whitespace or joined repeats, signed names out of
order, named twice or missing, odd paths and query strings."""

from __future__ import annotations

import random

import pytest
from botocore.auth import SigV4Auth
from botocore.credentials import Credentials

from lambkin.protocol.sigv4_signer import Signing, Verifier, signed_names

HEADERS = {
    "host": "127.0.0.1:9000",
    "content-type": "application/json",
    "x-amz-date": "20261205T101500Z",
    "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "x-amz-client-context": "  eyJhIjoxfQ==  ",
    "x-amz-log-type": "Tail",
    "x-custom": "a   b\t c,  d ",
    "x-empty": "",
}
PATHS = [
    "/2015-03-31/functions/echo/invocations",
    "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aecho/invocations",
    "/a/./b/../c//d/",
    "/with%20space/and~tilde/%7E",
    "/",
]
QUERIES = [
    "",
    "Qualifier=%24LATEST",
    "b=2&a=1&a=0",
    "a-b=1&a=2&flag&a=",
    "Action=ListQueues&Version=2012-11-05&empty=",
]


def signings(count: int) -> list[Signing]:
    chance = random.Random(14)
    made = []
    for _ in range(count):
        names = chance.sample([*sorted(HEADERS), "x-missing"], chance.randint(1, 6))
        if chance.random() < 0.1:
            names.append(names[0])  # a name listed twice
        signed = ";".join(name.upper() if chance.random() < 0.2 else name for name in names)
        path, query = chance.choice(PATHS), chance.choice(QUERIES)
        url = f"http://127.0.0.1:9000{path}" + (f"?{query}" if query else "")
        method = chance.choice(["POST", "GET", "post"])
        made.append(
            Signing(method, url, HEADERS, signed_names(signed), "UNSIGNED-PAYLOAD", HEADERS["x-amz-date"])
        )
    return made


@pytest.mark.parametrize("service, region", [("lambda", "us-east-1"), ("sqs", "eu-west-3")])
def test_canonical_request_and_string_to_sign_are_botocore_s(service: str, region: str) -> None:
    verifier = Verifier(Credentials("AKIDTEST", "secret"), service, region)
    for signing in signings(300):
        ours = verifier.canonical_request(signing)
        theirs = SigV4Auth.canonical_request(verifier, signing)
        assert ours == theirs
        assert verifier.string_to_sign(signing, ours) == SigV4Auth.string_to_sign(verifier, signing, theirs)
