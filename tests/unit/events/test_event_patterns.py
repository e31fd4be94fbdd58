"""Event patterns against AWS's documented examples (EventBridge user guide: "Event patterns", "Comparison
operators", "Matching on arrays", "$or"; event-ruler's README): every operator, its match and its miss,
nested fields, arrays, and the patterns AWS refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambkin.events.bridge.errors import InvalidPattern
from lambkin.events.bridge.patterns import compile_pattern
from lambkin.events.bridge.values import loads

EC2_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}


def event(**detail: Any) -> str:
    return json.dumps({**EC2_EVENT, "detail": detail})


def raw(detail: str) -> str:
    """An event whose detail is written as given (numbers keep their form)."""
    return json.dumps({**EC2_EVENT, "detail": "@"}).replace('"@"', detail)


# (pattern, event, matches?)
CASES: list[tuple[str, str, bool]] = [
    # Exact values, nested fields, several values OR'd, fields AND'd.
    (
        '{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],'
        '"detail":{"state":["terminated"]}}',
        json.dumps(EC2_EVENT),
        True,
    ),
    ('{"source":["aws.ec2","aws.fargate"]}', json.dumps(EC2_EVENT), True),
    ('{"source":["aws.s3"]}', json.dumps(EC2_EVENT), False),
    ('{"source":["aws.ec2"],"detail":{"state":["running"]}}', json.dumps(EC2_EVENT), False),
    ('{"detail":{"state":["Terminated"]}}', json.dumps(EC2_EVENT), False),  # case-sensitive
    ('{"detail":{"missing":["x"]}}', json.dumps(EC2_EVENT), False),
    ('{"detail.state":["terminated"]}', json.dumps(EC2_EVENT), True),  # the dot joins
    # Arrays: the event's array matches if any member is in the pattern's.
    (
        '{"resources":["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"]}',
        json.dumps(EC2_EVENT),
        True,
    ),
    (
        '{"resources":["arn:aws:ec2:us-west-1:123456789012:instance:i-1234567890abcdef0"]}',
        json.dumps(EC2_EVENT),
        False,
    ),
    ('{"detail":{"tags":["b","z"]}}', event(tags=["a", "b"]), True),
    ('{"detail":{"tags":["z"]}}', event(tags=["a", "b"]), False),
    # Arrays of objects: one member must match all of the nested pattern.
    (
        '{"detail":{"employees":{"firstName":["Anna"]}}}',
        event(employees=[{"firstName": "John"}, {"firstName": "Anna"}]),
        True,
    ),
    (
        '{"detail":{"employees":{"firstName":["Anna"],"lastName":["Smith"]}}}',
        event(
            employees=[{"firstName": "Anna", "lastName": "Jones"}, {"firstName": "John", "lastName": "Smith"}]
        ),
        False,
    ),
    # null and the empty string are values, and not each other; a missing field is neither.
    ('{"detail":{"responseElements":[null]}}', event(responseElements=None), True),
    ('{"detail":{"responseElements":[null]}}', event(responseElements=""), False),
    ('{"detail":{"responseElements":[""]}}', event(responseElements=""), True),
    ('{"detail":{"responseElements":[null]}}', event(), False),
    ('{"detail":{"on":[true]}}', event(on=True), True),
    ('{"detail":{"on":[true]}}', event(on="true"), False),
    # Numbers match exactly by how they are written ("300, 300.0 and 3.0e2 are not equal").
    ('{"detail":{"count":[300]}}', raw('{"count":300}'), True),
    ('{"detail":{"count":[300]}}', raw('{"count":300.0}'), False),
    ('{"detail":{"count":[300]}}', raw('{"count":"300"}'), False),
    ('{"detail":{"x-limit":[301.8]}}', raw('{"x-limit":3.018e2}'), False),
    # prefix, prefix ignoring case.
    ('{"detail":{"region":[{"prefix":"us-"}]}}', event(region="us-east-1"), True),
    ('{"detail":{"region":[{"prefix":"us-"}]}}', event(region="eu-west-1"), False),
    ('{"detail":{"region":[{"prefix":"us-"}]}}', raw('{"region":5}'), False),
    (
        '{"detail":{"service":[{"prefix":{"equals-ignore-case":"eventb"}}]}}',
        event(service="EventBridge"),
        True,
    ),
    ('{"detail":{"service":[{"prefix":{"equals-ignore-case":"eventb"}}]}}', event(service="Lambda"), False),
    # suffix, suffix ignoring case.
    ('{"detail":{"FileName":[{"suffix":".png"}]}}', event(FileName="image.png"), True),
    ('{"detail":{"FileName":[{"suffix":".png"}]}}', event(FileName="image.PNG"), False),
    ('{"detail":{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}}', event(FileName="image.PNG"), True),
    # equals-ignore-case.
    ('{"detail":{"name":[{"equals-ignore-case":"alice"}]}}', event(name="ALICE"), True),
    ('{"detail":{"name":[{"equals-ignore-case":"alice"}]}}', event(name="alicia"), False),
    # wildcard.
    (
        '{"detail":{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}}',
        event(EventBusArn="arn:aws:events:us-east-1:123456789012:event-bus/orders"),
        True,
    ),
    (
        '{"detail":{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}}',
        event(EventBusArn="arn:aws:events:us-west-2:123456789012:event-bus/orders"),
        False,
    ),
    ('{"detail":{"dir":[{"wildcard":"dir/*.png"}]}}', event(dir="dir/a/b.png"), True),
    ('{"detail":{"dir":[{"wildcard":"dir/*.png"}]}}', event(dir="dir/a.jpg"), False),
    ('{"detail":{"star":[{"wildcard":"a\\\\*b"}]}}', event(star="a*b"), True),
    ('{"detail":{"star":[{"wildcard":"a\\\\*b"}]}}', event(star="axxb"), False),
    # anything-but: a value, a list of strings or numbers, and with prefix, suffix, ignore case, wildcard.
    ('{"detail":{"state":[{"anything-but":"initializing"}]}}', event(state="running"), True),
    ('{"detail":{"state":[{"anything-but":"initializing"}]}}', event(state="initializing"), False),
    ('{"detail":{"state":[{"anything-but":"initializing"}]}}', event(), False),  # needs the field
    ('{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}', event(state="stopped"), False),
    ('{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}', event(state="running"), True),
    ('{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}', raw('{"x-limit":100}'), False),
    ('{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}', raw('{"x-limit":150}'), True),
    ('{"detail":{"x-limit":[{"anything-but":123}]}}', raw('{"x-limit":1.23e2}'), False),
    ('{"detail":{"Region":[{"anything-but":{"prefix":"us-"}}]}}', event(Region="us-east-1"), False),
    ('{"detail":{"Region":[{"anything-but":{"prefix":"us-"}}]}}', event(Region="eu-west-1"), True),
    ('{"detail":{"FileName":[{"anything-but":{"suffix":".png"}}]}}', event(FileName="a.png"), False),
    ('{"detail":{"FileName":[{"anything-but":{"suffix":".png"}}]}}', event(FileName="a.txt"), True),
    (
        '{"detail":{"state":[{"anything-but":{"equals-ignore-case":"initializing"}}]}}',
        event(state="INITIALIZING"),
        False,
    ),
    ('{"detail":{"state":[{"anything-but":{"equals-ignore-case":["a","b"]}}]}}', event(state="c"), True),
    (
        '{"detail":{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}}',
        event(FilePath="/usr/lib/x"),
        False,
    ),
    ('{"detail":{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}}', event(FilePath="/usr/bin/x"), True),
    # numeric: equal, ranges, bounds inclusive or not; numbers only.
    ('{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}]}}', raw('{"c-count":5}'), True),
    ('{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}]}}', raw('{"c-count":0}'), False),
    ('{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}]}}', raw('{"c-count":"3"}'), False),
    ('{"detail":{"d-count":[{"numeric":["<",10]}]}}', raw('{"d-count":9.99}'), True),
    ('{"detail":{"d-count":[{"numeric":["<",10]}]}}', raw('{"d-count":10}'), False),
    ('{"detail":{"x-limit":[{"numeric":["=",3.018e2]}]}}', raw('{"x-limit":301.8}'), True),
    ('{"detail":{"x-limit":[{"numeric":[">=",-1e9]}]}}', raw('{"x-limit":-1000000000}'), True),
    # exists: on leaves only (an object is no leaf), and a missing parent has no leaves.
    ('{"detail":{"state":[{"exists":true}]}}', json.dumps(EC2_EVENT), True),
    ('{"detail":{"state":[{"exists":false}]}}', json.dumps(EC2_EVENT), False),
    ('{"detail":{"c-count":[{"exists":false}]}}', json.dumps(EC2_EVENT), True),
    ('{"detail":{"c-count":[{"exists":false}]}}', event(**{"c-count": {"c1": 100}}), True),
    ('{"detail":{"c-count":[{"exists":true}]}}', event(**{"c-count": {"c1": 100}}), False),
    ('{"nothing":{"here":[{"exists":false}]}}', json.dumps(EC2_EVENT), True),
    ('{"detail":{"state":[{"exists":false},"terminated"]}}', json.dumps(EC2_EVENT), True),
    # cidr, and a pattern's IP address matching the same address.
    ('{"detail":{"sourceIPAddress":[{"cidr":"10.0.0.0/24"}]}}', event(sourceIPAddress="10.0.0.255"), True),
    ('{"detail":{"sourceIPAddress":[{"cidr":"10.0.0.0/24"}]}}', event(sourceIPAddress="10.0.1.0"), False),
    ('{"detail":{"sourceIPAddress":[{"cidr":"2001:db8::/64"}]}}', event(sourceIPAddress="2001:db8::7"), True),
    ('{"detail":{"sourceIPAddress":[{"cidr":"10.0.0.0/24"}]}}', event(sourceIPAddress="not-an-ip"), False),
    ('{"detail":{"ip":["2001:db8::1"]}}', event(ip="2001:0db8:0000::0001"), True),
    # $or, at the top and nested, with the other fields AND'd.
    (
        '{"source":["aws.ec2"],"$or":[{"detail":{"state":["running"]}},{"detail":{"instance-id":["i-1234567890abcdef0"]}}]}',
        json.dumps(EC2_EVENT),
        True,
    ),
    (
        '{"source":["aws.s3"],"$or":[{"detail":{"state":["terminated"]}},{"region":["us-west-1"]}]}',
        json.dumps(EC2_EVENT),
        False,
    ),
    (
        '{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]},'
        '{"x-limit":[{"numeric":["=",3.018e2]}]}]}}',
        raw('{"x-limit":301.8}'),
        True,
    ),
    (
        '{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]}]}}',
        raw('{"c-count":50,"d-count":20}'),
        False,
    ),
    # Of a key given twice, the last one counts.
    ('{"source":["aws.s3"],"source":["aws.ec2"]}', json.dumps(EC2_EVENT), True),
]


@pytest.mark.parametrize(("pattern", "event_text", "expected"), CASES)
def test_a_documented_pattern_matches_as_aws_says(pattern: str, event_text: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(loads(event_text)) is expected


INVALID: list[tuple[str, str]] = [
    ("[]", "Filter is not an object"),
    ("{}", "Empty objects are not allowed"),
    ('{"source":"aws.ec2"}', '"source" must be an object or an array'),
    ('{"source":[]}', "Empty arrays are not allowed"),
    ('{"source":[["a"]]}', "Match value must be String, number, true, false, or null"),
    ('{"source":[{"bogus":"x"}]}', "Unrecognized match type bogus"),
    ('{"source":[{"prefix":"a","suffix":"b"}]}', "Only one key allowed in match expression"),
    ('{"source":[{"prefix":5}]}', "prefix match pattern must be a string"),
    ('{"source":[{"prefix":{"wildcard":"a"}}]}', "Unsupported prefix pattern: wildcard"),
    ('{"source":[{"wildcard":"a**b"}]}', "Consecutive wildcard characters at pos 2"),
    ('{"source":[{"wildcard":"a\\\\b"}]}', "Invalid escape character at pos 1"),
    ('{"n":[{"numeric":[">",5,"<",1]}]}', "Bottom must be less than top"),
    ('{"n":[{"numeric":["!",5]}]}', "Unrecognized numeric range operator: !"),
    ('{"n":[{"numeric":["<","5"]}]}', "Value of < must be numeric"),
    ('{"n":[{"numeric":5}]}', "Value of numeric must be an array."),
    ('{"n":[{"exists":"yes"}]}', "exists match pattern must be either true or false."),
    ('{"n":[{"anything-but":["a",1]}]}', "mixed type is not supported"),
    ('{"n":[{"anything-but":null}]}', "start|null|boolean is not supported"),
    ('{"n":[{"anything-but":{"numeric":[">",1]}}]}', "Unsupported anything-but pattern: numeric"),
    ('{"n":[{"anything-but":{"prefix":""}}]}', "Null prefix/suffix not allowed"),
    ('{"n":[{"cidr":"10.0.0.0"}]}', "Malformed CIDR"),
    ('{"$or":[{"a":["1"]}]}', "There must have at least 2 Objects in $or relationship."),
    ('{"$or":{"a":["1"]}}', "It must be an Array followed with $or."),
    ('{"$or":[{"a":["1"]},["b"]]}', "Only JSON object is allowed in array of $or relationship."),
    (
        '{"$or":[{"prefix":["1"]},{"b":["2"]}]}',
        "prefix is Ruler reserved fieldName which cannot be used inside $or.",
    ),
    ("{not json", "Filter is not valid JSON"),
]


@pytest.mark.parametrize(("pattern", "reason"), INVALID)
def test_a_pattern_aws_refuses_is_an_invalid_event_pattern(pattern: str, reason: str) -> None:
    with pytest.raises(InvalidPattern) as raised:
        compile_pattern(pattern)
    assert raised.value.code == "InvalidEventPatternException"
    assert raised.value.message.startswith("Event pattern is not valid. Reason: ")
    assert reason in raised.value.message


def test_more_than_a_thousand_or_combinations_is_refused() -> None:
    choices = json.dumps([{"a": ["1"]}, {"b": ["2"]}, {"c": ["3"]}, {"d": ["4"]}, {"e": ["5"]}, {"f": ["6"]}])
    nested = "{" + ",".join(f'"k{i}":{{"$or":{choices}}}' for i in range(4)) + "}"
    with pytest.raises(InvalidPattern, match="combinations"):
        compile_pattern(nested)  # 6**4 = 1296 branches
    compile_pattern("{" + ",".join(f'"k{i}":{{"$or":{choices}}}' for i in range(3)) + "}")  # 216: fine
