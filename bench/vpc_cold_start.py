"""A VPC function's cold start (its security groups' rules written as its sandbox is made) vs a function
outside a VPC, on the same server.

Run: .venv/bin/python -m bench.vpc_cold_start [--samples N]

One `lambkin server` with LAMBKIN_VPC_CONFIG defining one security group of three egress rules; N functions
of the python-echo image with that VpcConfig and N without; each invoked once (no environment yet), the two
kinds taken in turn (each first every other time), timed by the client from request to response. Ratio
vpc/default: the price of the per-sandbox nft transaction (a VPC function's only extra cold-start work).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.network_cold_start import cold_once
from bench.support import create_function, creds, lambkin_server

_RULES = [
    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "192.0.2.0/24"}]},
    {"IpProtocol": "udp", "FromPort": 1024, "ToPort": 65535, "IpRanges": [{"CidrIp": "198.51.100.0/24"}]},
    {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "203.0.113.0/24"}]},
]
_VPCS = {
    "Vpcs": [
        {
            "VpcId": "vpc-0bench",
            "Subnets": [{"SubnetId": "subnet-0bench", "CidrBlock": "10.99.1.0/24"}],
            "SecurityGroups": [{"GroupId": "sg-0bench", "IpPermissionsEgress": _RULES}],
        }
    ]
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.vpc_cold_start")
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args(argv)
    from tests.images import push

    samples: dict[str, list[float]] = {"vpc": [], "default": []}
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "vpc.json"
        config.write_text(json.dumps(_VPCS))
        env = {"LAMBKIN_IDLE_TIMEOUT": "600", "LAMBKIN_VPC_CONFIG": str(config)}
        with lambkin_server(env, name="vpc-cold") as server:
            uri = push("python-echo", server.registry, creds(), tag="bench")
            vpc = {"SubnetIds": ["subnet-0bench"], "SecurityGroupIds": ["sg-0bench"]}
            for i in range(args.samples + 1):
                create_function(server, f"vpc-{i}", uri, VpcConfig=vpc)
                create_function(server, f"default-{i}", uri)
            time.sleep(1)  # the namespace pool filled
            for i in range(args.samples + 1):
                turns = [("vpc", f"vpc-{i}"), ("default", f"default-{i}")]
                for kind, name in turns if i % 2 else reversed(turns):
                    elapsed = cold_once(server, name)
                    if i:  # the first ones unpack the image
                        samples[kind].append(elapsed)
                time.sleep(0.3)  # the pool refills between rounds, as it does between bursts
    vpc50, default50 = statistics.median(samples["vpc"]), statistics.median(samples["default"])
    print(f"cold start, python-echo, {len(samples['vpc'])} samples each, kinds taken in turn")
    print(f"default  (anchor): median {default50:.1f} ms  min {min(samples['default']):.1f}")
    print(f"vpc              : median {vpc50:.1f} ms  min {min(samples['vpc']):.1f}")
    print(f"ratio vpc/default = {vpc50 / default50:.3f}")
    print(
        json.dumps(
            {"bench": "vpc_cold_start", "vpc_ms": vpc50, "default_ms": default50, "ratio": vpc50 / default50}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
