"""Handlers that report what they see, for python-handlers' runtime (stdlib only; functions.py runs them).

span: sleeps event["seconds"], returns when it started and ended (the test host's one clock). record: sends
each SQS record's body to $RECORD_QUEUE_URL. hold: says event["name"] there, then waits for a message on
$RELEASE_QUEUE_URL. Queues are reached through lambkin's in-sandbox endpoint, signed with the function's own
credentials (SigV4).
"""

import datetime
import hashlib
import hmac
import json
import os
import time
import urllib.request


def span(event, context):  # type: ignore[no-untyped-def]
    start = time.time()
    time.sleep(float(event.get("seconds", 1)))
    return {"start": start, "end": time.time()}


def record(event, context):  # type: ignore[no-untyped-def]
    for item in event["Records"]:
        sqs("SendMessage", {"QueueUrl": os.environ["RECORD_QUEUE_URL"], "MessageBody": item["body"]})


def hold(event, context):  # type: ignore[no-untyped-def]
    sqs("SendMessage", {"QueueUrl": os.environ["RECORD_QUEUE_URL"], "MessageBody": event["name"]})
    release = {"QueueUrl": os.environ["RELEASE_QUEUE_URL"], "WaitTimeSeconds": 5}
    while not sqs("ReceiveMessage", release).get("Messages"):
        pass
    return {"released": event["name"]}


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sqs(action: str, params: dict) -> dict:  # type: ignore[type-arg]
    endpoint = os.environ["AWS_ENDPOINT_URL"].rstrip("/")
    region = os.environ["AWS_REGION"]
    body = json.dumps(params).encode()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "content-type": "application/x-amz-json-1.0",
        "host": endpoint.split("://", 1)[1],
        "x-amz-date": stamp,
        "x-amz-security-token": os.environ["AWS_SESSION_TOKEN"],
        "x-amz-target": "AmazonSQS." + action,
    }
    names = sorted(headers)
    lines = ["POST", "/", "", *(f"{n}:{headers[n]}" for n in names), "", ";".join(names)]
    canonical = "\n".join([*lines, hashlib.sha256(body).hexdigest()])
    scope = f"{stamp[:8]}/{region}/sqs/aws4_request"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    key = ("AWS4" + os.environ["AWS_SECRET_ACCESS_KEY"]).encode()
    for part in (stamp[:8], region, "sqs", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{digest}".encode(), hashlib.sha256)
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={os.environ['AWS_ACCESS_KEY_ID']}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature.hexdigest()}"
    )
    request = urllib.request.Request(endpoint + "/", body, headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")  # type: ignore[no-any-return]
