"""respond.handler: returns what the request body asks for, so front-door tests can drive every response rule.

Body JSON: {"return": VALUE} returns VALUE; {"raise": "message"} raises; {"sleep": seconds} sleeps first;
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
