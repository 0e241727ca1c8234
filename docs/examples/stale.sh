# The history docs/stale.md reads: a flags repository at flags/, committed in a git repository
# on 2026-03-01 (an old release), 2026-09-01 (a rollout begins; a flag that expires in
# October) and 2026-10-01 (the rollout reaches everyone).
set -euo pipefail
commit() { GIT_AUTHOR_DATE="$1T12:00:00Z" GIT_COMMITTER_DATE="$1T12:00:00Z" git commit -qm "$2"; }
# A release flag of mateo's: release DESCRIPTION EXPIRES, then its environments on stdin.
release() { printf 'description = "%s"\nowners = ["mateo"]\nkind = "release"\nexpires = %s\n' "$1" "$2"; cat; }

git init -q
mkdir -p flags/flags/legacy flags/flags/search flags/flags/billing
cat >flags/flagstone.toml <<'TOML'
name = "acme"
environments = ["staging", "production"]

[attributes]
country = { type = "string", values = ["US", "CA"] }
TOML
release "Old release" 2027-12-31 >flags/flags/legacy/old-release.toml <<'TOML'
[env.production]
serve = "off"

[[env.production.rules]]
name = "half"
rollout = 50
serve = "on"
TOML
git add -A
commit 2026-03-01 "legacy/old-release"

ranking() {
  release "New ranking" 2027-06-30 >flags/flags/search/ranking.toml <<TOML
[env.staging]
serve = "off"

[[env.staging.rules]]
name = "half"
rollout = $1
serve = "on"

[env.production]
serve = "$2"

[[env.production.rules]]
name = "us"
if = [{ attr = "country", op = "in", values = ["US"] }]
rollout = $1
serve = "on"
TOML
}
ranking 30 off
release "Expired" 2026-10-31 >flags/flags/billing/expired.toml <<'TOML'
[env.production]
serve = "off"

[[env.production.rules]]
name = "some"
rollout = 20
serve = "on"
TOML
git add -A
commit 2026-09-01 "search/ranking at 30%, billing/expired"

ranking 100 on
git add -A
commit 2026-10-01 "search/ranking for everyone"
