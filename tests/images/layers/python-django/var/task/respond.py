"""respond.handler: returns what the request body asks for, so front-door tests can drive every response rule.

respond.wrapped returns the event wrapped in a response. Body JSON for handler: {"return": VALUE} returns VALUE; {"raise": "message"} raises; {"sleep": seconds} sleeps first;
{"size": N} returns a JSON string of N bytes.
"""

import base64
import json
import time


def handler(event, context):
    body = event.get("body") or "{}"
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    asked = json.loads(body)
    if "sleep" in asked:
        time.sleep(float(asked["sleep"]))
    if "raise" in asked:
        raise RuntimeError(asked["raise"])
    if "size" in asked:
        return "x" * (int(asked["size"]) - 2)
    return asked.get("return")


def wrapped(event, context):
    """The event itself, as the body of a response every format accepts (1.0 and ALB infer nothing)."""
    return {"statusCode": 200, "body": json.dumps(event), "headers": {"content-type": "application/json"}}
