"""The parts' wirings: each part of the server built from Settings, and what it adds to the whole.

One function per part returns a frozen `Part`: its AWS API handlers by service, its HTTP mounts, its
background loops and its closers, plus the objects the parts after it need. `app.build()` calls them in
order and composes what they return; nothing here starts anything.

The wirings live by concern: `parts` (the frame, the store, the cluster), `identity`, `execution`, `work`
(what brings functions work) and `faces` (what users and operators see); each is imported from here.
"""

from lambkin.wiring.execution import (
    ExecutionPart,
    FunctionsPart,
    ImagesPart,
    PlacementPart,
    SandboxesPart,
    execution,
    functions,
    images,
    placement,
    sandboxes,
    vpcs,
)
from lambkin.wiring.faces import aws, aws_namespaces, console, metrics, recording
from lambkin.wiring.identity import (
    AuthorizationPart,
    IamPart,
    IdentityPart,
    action_tables,
    authorization,
    iam,
    identity,
    resource_policy,
    service_may,
)
from lambkin.wiring.parts import (
    AWS_SERVICES,
    BackgroundTask,
    Closer,
    CloudWatchPart,
    ClusterPart,
    Part,
    StorePart,
    cloudwatch,
    cluster,
    migrations,
    store,
)
from lambkin.wiring.work import (
    BridgePart,
    HttpPart,
    InvokesPart,
    MappingsPart,
    QueuesPart,
    bridge,
    http,
    invokes,
    mappings,
    queues,
    schedules,
)

__all__ = [
    "AWS_SERVICES",
    "AuthorizationPart",
    "BackgroundTask",
    "BridgePart",
    "Closer",
    "CloudWatchPart",
    "ClusterPart",
    "ExecutionPart",
    "FunctionsPart",
    "HttpPart",
    "IamPart",
    "IdentityPart",
    "ImagesPart",
    "InvokesPart",
    "MappingsPart",
    "Part",
    "PlacementPart",
    "QueuesPart",
    "SandboxesPart",
    "StorePart",
    "action_tables",
    "authorization",
    "aws",
    "aws_namespaces",
    "bridge",
    "cloudwatch",
    "cluster",
    "console",
    "execution",
    "functions",
    "http",
    "iam",
    "identity",
    "images",
    "invokes",
    "mappings",
    "metrics",
    "migrations",
    "placement",
    "queues",
    "recording",
    "resource_policy",
    "sandboxes",
    "schedules",
    "service_may",
    "store",
    "vpcs",
]
