# The workspace docs/refs.md scans: a flags repository at flags/ whose git history has a flag
# that is gone, and code beside it at app/ with references right and wrong, in several
# languages, and files that are not read.
set -euo pipefail
commit() { GIT_AUTHOR_DATE="$1T12:00:00Z" GIT_COMMITTER_DATE="$1T12:00:00Z" git commit -qm "$2"; }

mkdir -p flags/flags/checkout flags/flags/promo flags/flags/search app/web app/server app/go
cat >flags/flagstone.toml <<'TOML'
name = "acme"
environments = ["staging", "production"]
TOML
cat >flags/flags/checkout/one-page.toml <<'TOML'
description = "One-page checkout"
owners = ["alice"]
kind = "release"
expires = 2027-06-30
TOML
cat >flags/flags/promo/spring-sale.toml <<'TOML'
description = "Spring sale banner"
owners = ["alice"]
kind = "experiment"
expires = 2026-03-01
TOML
cat >flags/flags/search/typeahead.toml <<'TOML'
description = "Typeahead in search"
owners = ["alice"]
kind = "ops"
TOML
cat >flags/flags/search/legacy-ranking.toml <<'TOML'
description = "The old ranking"
owners = ["alice"]
kind = "ops"
TOML
git init -q
git add flags
commit 2026-10-01 "flags"
git rm -q flags/flags/search/legacy-ranking.toml
commit 2026-11-02 "search/legacy-ranking is gone"

cat >app/web/checkout.ts <<'TS'
import { flags } from "./flags";
if (flags.bool("checkout/one-page", false)) {
  redirect("checkout/success");
}
const typo = flags.bool('checkout/one-pgae');
const banner = flags.bool(`promo/spring-sale`);
TS
cat >app/server/views.py <<'PY'
from flags import FLAGS

if client.enabled(FLAGS.CHECKOUT_ONE_PAGE):
    pass
SHOUTED = client.enabled("Checkout/One-Page")
RANKING = client.variant("search/legacy-ranking")
PY
cat >app/go/promo.go <<'GO'
package promo

func Banner() bool { return flags.Bool(PromoSpringSale) }
GO
# Latin-1, not UTF-8: its references are still found.
printf '# caf\xe9\nputs "d\xe9j\xe0" if feature?("checkout/one-page")\n' >app/legacy.rb
# Not read: ignored, hidden, binary (a NUL byte), over 4 MiB.
mkdir -p app/generated app/.cache
echo 'generated/' >app/.gitignore
echo 'export const key = "search/typeahead";' >app/generated/client.ts
echo 'use("search/typeahead")' >app/.cache/old.js
printf '\x89PNG\r\n\x1a\n\0\0\0"search/typeahead"' >app/logo.png
head -c 4194305 /dev/zero | tr '\0' ' ' >app/bundle.js
