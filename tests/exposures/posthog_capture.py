"""Has the real PostHog client send `$feature_flag_called` for one exposure.

Usage: posthog_capture.py HOST EXPOSURE_PROPERTIES_JSON

HOST is a loopback server standing in for PostHog: it answers the client's `/flags` request
with the exposure's variant, so the client decides to send `$feature_flag_called` itself, and
it keeps the event batch the client then posts. The exposure's session and flagstone's own
fields go in through the client's context (session id and tags), as an application would set
them, so every property in the event is one the client put there.
"""

import json
import sys
import warnings

import posthog
from posthog import Posthog


def main():
    # `get_feature_flag` is the call that sends the client's own `$feature_flag_called`
    # (deprecated in favour of `evaluate_flags`, which sends the same event).
    warnings.simplefilter("ignore", DeprecationWarning)
    host, expected = sys.argv[1], json.loads(sys.argv[2])
    properties = expected["properties"]
    client = Posthog(
        "phc_flagstone_test",
        host=host,
        sync_mode=True,
        max_retries=0,
        feature_flags_request_timeout_seconds=5,
        enable_exception_autocapture=False,
    )
    with posthog.new_context(client=client):
        if "$session_id" in properties:
            posthog.set_context_session(properties["$session_id"])
        for key, value in properties.items():
            if key.startswith("flagstone_"):
                posthog.tag(key, value)
        variant = client.get_feature_flag(properties["$feature_flag"], expected["distinct_id"])
    client.shutdown()
    if variant != properties["$feature_flag_response"]:
        sys.exit(f"the client evaluated {variant!r}")


if __name__ == "__main__":
    main()
