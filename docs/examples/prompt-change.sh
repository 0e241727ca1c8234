# The pull request README.md holds until its evals pass: flags.example at flags/ on main, and a
# branch that moves the assistant's v8 candidate from prompt assistant-v8-rc2 to rc3.
set -euo pipefail
git init -q
git add -A
git commit -qm "flags"
git checkout -q -b prompt-rc3
sed -i 's/assistant-v8-rc2/assistant-v8-rc3/' flags/flags/ai/assistant-model.toml
git commit -qam "assistant: v8 candidate on prompt rc3"
echo '[]' >reviews.json
