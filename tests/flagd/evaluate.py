"""Evaluates flags of a flagd flag-definition file with openfeature-flagd-core (flagd's
Python evaluator), for tests/test_export.rs.

stdin: a JSON array of jobs {"flags": "<a file's text>", "keys": [flag key, ...],
"contexts": [context, ...]}
stdout: a JSON array with, per job, an array: for each key, for each context,
{"variant", "value"} or {"error"}.
"""

import json
import sys

from openfeature.contrib.tools.flagd.core import FlagdCore
from openfeature.evaluation_context import EvaluationContext


def main() -> None:
    json.dump([run(job) for job in json.load(sys.stdin)], sys.stdout)


def run(data: dict) -> list:
    core = FlagdCore()
    core.set_flags(data["flags"])
    definitions = json.loads(data["flags"])["flags"]
    results = []
    contexts = []
    for context in data["contexts"]:
        attributes = dict(context)
        targeting_key = attributes.pop("targetingKey", None)
        contexts.append(EvaluationContext(targeting_key, attributes))
    for key in data["keys"]:
        first = next(iter(definitions[key]["variants"].values()))
        if isinstance(first, bool):
            resolve, default = core.resolve_boolean_value, False
        elif isinstance(first, (int, float)):
            resolve, default = core.resolve_float_value, 0.0
        elif isinstance(first, str):
            resolve, default = core.resolve_string_value, ""
        else:
            resolve, default = core.resolve_object_value, {}
        for evaluation_context in contexts:
            results.append(answer(resolve, key, default, evaluation_context))
    return results


def answer(resolve, key, default, evaluation_context) -> dict:
    try:
        resolution = resolve(key, default, evaluation_context)
    except Exception as error:  # every failure is an answer to compare
        return {"error": f"{type(error).__name__}: {error}"}
    if resolution.error_code:
        return {"error": f"{resolution.error_code}: {resolution.error_message}"}
    return {"variant": resolution.variant, "value": resolution.value}


if __name__ == "__main__":
    main()
