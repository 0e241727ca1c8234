# The pull request docs/review.md judges: flags.example at flags/ on main, and a branch that
# raises a production rollout from 25% to 60%; bob approved its head commit, carol an earlier
# one.
set -euo pipefail
git init -q
git add -A
git commit -qm "flags"
git checkout -q -b wider-rollout
flagstone rollout checkout/one-page --env production --rule north-america-gradual --percent 60 \
  --dir flags --commit --now 2026-11-26 >/dev/null
review() {
  printf '{"id": %s, "user": {"login": "%s", "type": "User"}, "state": "APPROVED", ' "$1" "$2"
  printf '"author_association": "MEMBER", "commit_id": "%s", "body": ""}' "$(git rev-parse "$3")"
}
echo "[$(review 1 Bob HEAD), $(review 2 carol main)]" >reviews.json
