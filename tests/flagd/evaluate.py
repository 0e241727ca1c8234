"""Evaluates flags of a flagd flag-definition file with openfeature-flagd-core (flagd's
Python evaluator), for tests/test_export.rs.

stdin: {"flags": "<the file's text>", "cases": [[flag key, context], ...]}
stdout: one JSON array, per case {"variant", "value"} or {"error"}.
"""

import json
import sys

from openfeature.contrib.tools.flagd.core import FlagdCore
from openfeature.evaluation_context import EvaluationContext


def main() -> None:
    data = json.load(sys.stdin)
    core = FlagdCore()
    core.set_flags(data["flags"])
    definitions = json.loads(data["flags"])["flags"]
    results = []
    for key, context in data["cases"]:
        context = dict(context)
        targeting_key = context.pop("targetingKey", None)
        evaluation_context = EvaluationContext(targeting_key, context)
        first = next(iter(definitions[key]["variants"].values()))
        if isinstance(first, bool):
            resolve, default = core.resolve_boolean_value, False
        elif isinstance(first, (int, float)):
            resolve, default = core.resolve_float_value, 0.0
        elif isinstance(first, str):
            resolve, default = core.resolve_string_value, ""
        else:
            resolve, default = core.resolve_object_value, {}
        try:
            resolution = resolve(key, default, evaluation_context)
        except Exception as error:  # every failure is an answer to compare
            results.append({"error": f"{type(error).__name__}: {error}"})
            continue
        if resolution.error_code:
            results.append({"error": f"{resolution.error_code}: {resolution.error_message}"})
        else:
            results.append({"variant": resolution.variant, "value": resolution.value})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
