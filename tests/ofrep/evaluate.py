"""Evaluates flags through OpenFeature's Python SDK (openfeature-sdk) and its OFREP provider
(openfeature-provider-ofrep) against a running `flagstone serve`, for tests/test_serve.rs.

stdin: {"base_url": "http://…", "token": "…" or null, "cases": [{"flag", "type" (boolean,
string, integer, float or object), "default", "context"}, …]}; a context's `targetingKey` is
the evaluation context's targeting key, its other keys the attributes.
stdout: a JSON array with, per case, {"value", "variant", "reason", "error_code", "metadata"}.
"""

import json
import sys

from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext


def main() -> None:
    job = json.load(sys.stdin)
    token = job.get("token")
    headers = (lambda: {"Authorization": f"Bearer {token}"}) if token else None
    # The SDK initializes a provider on a thread; evaluating before it is ready answers
    # PROVIDER_NOT_READY, so wait as the Node client does with setProviderAndWait.
    api.set_provider_and_wait(OFREPProvider(job["base_url"], headers_factory=headers))
    client = api.get_client()
    resolvers = {
        "boolean": client.get_boolean_details,
        "string": client.get_string_details,
        "integer": client.get_integer_details,
        "float": client.get_float_details,
        "object": client.get_object_details,
    }
    answers = []
    for case in job["cases"]:
        attributes = dict(case["context"])
        targeting_key = attributes.pop("targetingKey", None)
        context = EvaluationContext(targeting_key, attributes)
        details = resolvers[case["type"]](case["flag"], case["default"], context)
        answers.append(
            {
                "value": details.value,
                "variant": details.variant,
                "reason": str(getattr(details.reason, "value", details.reason)),
                "error_code": getattr(details.error_code, "value", details.error_code),
                "metadata": dict(details.flag_metadata or {}),
            }
        )
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
