"""An HTTP API route vs a function URL vs the Invoke API, and a route behind a cached Lambda authorizer: the
same function, the same server, the same run.

Run: .venv/bin/python -m bench.http_api [--requests N] [--rounds R]

One `lambkin server`; the python-handlers image's `app.echo` (MemorySize 1769: one vCPU) reached four ways,
one keep-alive client each, in alternating rounds:
- anchor: a SigV4-signed Invoke (POST /2015-03-31/functions/echo/invocations);
- a function URL (AuthType NONE, path form), GET;
- an HTTP API route (`GET /items/{id}`, payload 2.0, `$default` stage), GET at the API's path-form URL;
- the same API's route `GET /guarded/{id}` behind a Lambda REQUEST authorizer whose answer is cached (TTL 300).
Prints p50/p99 of each and the ratios of the p50s: route/function URL (target <= 1.10) and guarded route/route
(target <= 1.10), each also over the Invoke anchor.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable

from bench.support import (
    MEMORY_MB,
    create_function,
    lambkin_connection,
    lambkin_server,
    local_connection,
    percentile,
    post,
    signed_invoke,
    timed,
)

TARGET = 1.10


def getter(server_port: int, path: str, headers: dict[str, str]) -> Callable[[], bytes]:
    conn = local_connection(server_port)

    def call() -> bytes:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}: {data[:300]!r}")
        return data

    return call


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.http_api")
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per way")
    parser.add_argument("--rounds", type=int, default=20, help="alternating rounds (the host is shared)")
    args = parser.parse_args(argv)
    from tests.e2e.test_http_apis import AUTHORIZER_RUNTIME
    from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY
    from tests.images import push

    per_round = max(1, args.requests // args.rounds)
    samples: dict[str, list[float]] = {"invoke": [], "url": [], "route": [], "guarded": []}
    with lambkin_server({"LAMBKIN_FREEZE_AFTER": "5"}, name="http-api") as server:
        uri = push("python-handlers", server.registry, (ACCESS_KEY_ID, SECRET_ACCESS_KEY), tag="bench")
        lam = create_function(
            server, "echo", uri, MemorySize=MEMORY_MB, Timeout=30, ImageConfig={"Command": ["app.echo"]}
        )
        runtime = {"EntryPoint": ["/usr/bin/python3", "-c", AUTHORIZER_RUNTIME], "Command": ["authorizer"]}
        create_function(server, "authorizer", uri, MemorySize=MEMORY_MB, ImageConfig=runtime)
        echo_arn = lam.get_function(FunctionName="echo")["Configuration"]["FunctionArn"]
        authorizer_arn = lam.get_function(FunctionName="authorizer")["Configuration"]["FunctionArn"]
        url = lam.create_function_url_config(FunctionName="echo", AuthType="NONE")["FunctionUrl"]
        for sid, action, extra in (
            ("url", "lambda:InvokeFunctionUrl", {"FunctionUrlAuthType": "NONE"}),
            ("url-invoke", "lambda:InvokeFunction", {}),
        ):
            lam.add_permission(FunctionName="echo", StatementId=sid, Action=action, Principal="*", **extra)

        apigw = server.client("apigatewayv2")
        api = apigw.create_api(Name="bench", ProtocolType="HTTP")
        api_id = api["ApiId"]
        integration = apigw.create_integration(
            ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo_arn, PayloadFormatVersion="2.0"
        )
        authorizer = apigw.create_authorizer(
            ApiId=api_id,
            Name="cached",
            AuthorizerType="REQUEST",
            IdentitySource=["$request.header.Authorization"],
            AuthorizerUri=authorizer_arn,
            AuthorizerPayloadFormatVersion="2.0",
            EnableSimpleResponses=True,
            AuthorizerResultTtlInSeconds=300,
        )
        target = f"integrations/{integration['IntegrationId']}"
        apigw.create_route(ApiId=api_id, RouteKey="GET /items/{id}", Target=target)
        apigw.create_route(
            ApiId=api_id,
            RouteKey="GET /guarded/{id}",
            Target=target,
            AuthorizationType="CUSTOM",
            AuthorizerId=authorizer["AuthorizerId"],
        )
        apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        source = f"arn:aws:execute-api:us-east-1:000000000000:{api_id}"
        lam.add_permission(
            FunctionName="echo",
            StatementId="apigw",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"{source}/*/*",
        )
        lam.add_permission(
            FunctionName="authorizer",
            StatementId="apigw",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"{source}/authorizers/{authorizer['AuthorizerId']}",
        )

        base = f"/execute-api/{api_id}"
        url_path = url.split(str(server.port), 1)[1] + "items/7"
        invoke_path, invoke_headers = signed_invoke(server, "echo", b'{"id": "7"}')
        invoke_conn = lambkin_connection(server)
        calls: dict[str, Callable[[], bytes]] = {
            "invoke": lambda: post(invoke_conn, invoke_path, b'{"id": "7"}', invoke_headers),
            "url": getter(server.port, url_path, {}),
            "route": getter(server.port, f"{base}/items/7", {}),
            "guarded": getter(server.port, f"{base}/guarded/7", {"Authorization": "letmein"}),
        }
        for call in calls.values():
            timed(call, 200)
        for _ in range(args.rounds):
            for name, call in calls.items():
                samples[name].extend(timed(call, per_round))

    load = os.getloadavg()
    p50 = {name: percentile(values, 0.5) for name, values in samples.items()}
    p99 = {name: percentile(values, 0.99) for name, values in samples.items()}
    print(
        f"app.echo (python-handlers), MemorySize {MEMORY_MB}, {len(samples['route'])} requests per way in "
        f"{args.rounds} alternating rounds, one keep-alive client each; host load average {load[0]:.2f} on "
        f"{os.cpu_count()} cores"
    )
    labels = {
        "invoke": "anchor  Invoke API (signed)   ",
        "url": "function URL (NONE)           ",
        "route": "HTTP API route                ",
        "guarded": "route + cached authorizer     ",
    }
    for name, label in labels.items():
        print(
            f"{label}: p50 {p50[name]:.3f} ms  p99 {p99[name]:.3f} ms  ({p50[name] / p50['invoke']:.2f}x Invoke)"
        )
    route_ratio = p50["route"] / p50["url"]
    guarded_ratio = p50["guarded"] / p50["route"]
    for what, ratio in (("route/function URL", route_ratio), ("guarded route/route", guarded_ratio)):
        verdict = "PASS" if ratio <= TARGET else "FAIL"
        print(f"ratio p50 {what} = {ratio:.2f} (target <= {TARGET}) -> {verdict}")
    print(json.dumps({"bench": "http_api", "p50_ms": p50, "p99_ms": p99, "load_average": load[0]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
