"""IAM's document check: the policy engine's faults as MalformedPolicyDocument, managed policies 2012-10-17 only."""

from __future__ import annotations

import json

import pytest

from lambkin.identity import iam_errors as errors
from lambkin.identity.iam_documents import check_document

OLD = json.dumps(
    {"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}
)


def test_a_managed_policy_must_be_version_2012_10_17_an_inline_one_need_not() -> None:
    check_document(OLD, "identity")
    with pytest.raises(errors.MalformedPolicyDocument) as caught:
        check_document(OLD, "managed")
    assert "Policy document must be version 2012-10-17 or greater." in caught.value.message


def test_a_principal_in_an_identity_policy_is_malformed() -> None:
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "*"}],
        }
    )
    with pytest.raises(errors.MalformedPolicyDocument) as caught:
        check_document(document, "identity")
    assert "Policy document should not specify a principal." in caught.value.message
