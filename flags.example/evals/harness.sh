#!/bin/sh
# A toy eval harness for the AI assistant (ai/assistant-model): `flagstone evals run` gives it
# a variant's payload as JSON on standard input and reads one score per eval case, as CSV
# (case_id,score), from its standard output (docs/evals.md#running-the-harness).
#
# A real harness sends each case's question to the model the payload names, with its prompt
# and parameters, and grades the answer. This one replays grades recorded per prompt version
# (grades.csv: 1 correct, 0.5 partly, 0 wrong), so that it runs anywhere, offline, in
# milliseconds.
set -eu
here=$(dirname "$0")
# The payload is canonical JSON: compact, keys sorted.
prompt=$(sed -n 's/.*"prompt_version":"\([^"]*\)".*/\1/p')
if [ -z "$prompt" ]; then
    echo "harness.sh: the payload names no prompt_version" >&2
    exit 1
fi
awk -F, -v prompt="$prompt" '
    NR == 1 {
        for (i = 2; i <= NF; i++) if ($i == prompt) column = i
        if (!column) { print "harness.sh: no grades for prompt " prompt > "/dev/stderr"; exit 1 }
        print "case_id,score"
        next
    }
    { print $1 "," $column }
' "$here/grades.csv"
