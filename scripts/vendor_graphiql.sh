#!/usr/bin/env bash
# Re-vendors GraphiQL and React into app/http/graphiql/static/ from the npm registry, so the
# gateway serves them itself: GraphiQL must work on machines with no network access.
# The files are copied byte for byte; NOTICE.md records versions, licences and digests.
# Usage: scripts/vendor_graphiql.sh   (needs npm; review the diff, then run the tests)
set -euo pipefail
cd "$(dirname "$0")/.."

# GraphiQL 4.1 is the last line that ships a self-contained UMD build (5.x needs a bundler
# and web workers); React 18 is the last that ships UMD builds.
GRAPHIQL_VERSION=4.1.2
REACT_VERSION=18.3.1

out=app/http/graphiql/static
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" \
  "react-dom@$REACT_VERSION" >/dev/null)
for archive in "graphiql-$GRAPHIQL_VERSION" "react-$REACT_VERSION" "react-dom-$REACT_VERSION"; do
  package="${archive%-*}"
  mkdir -p "$work/$package"
  tar xzf "$work/$archive.tgz" -C "$work/$package" --strip-components=1
done

mkdir -p "$out"
cp "$work/graphiql/graphiql.min.js" "$work/graphiql/graphiql.min.css" "$out/"
cp "$work/react/umd/react.production.min.js" "$out/"
cp "$work/react-dom/umd/react-dom.production.min.js" "$out/"
cp "$work/graphiql/LICENSE" "$out/LICENSE.graphiql"
cp "$work/react/LICENSE" "$out/LICENSE.react"

digest() { sha256sum "$out/$1" | cut -d' ' -f1; }
{
  echo "# Vendored browser assets"
  echo
  echo "Served by the gateway itself at run time (no CDN); written by"
  echo "\`scripts/vendor_graphiql.sh\`, copied unmodified from the npm registry's packages."
  echo
  echo "| file | package | licence | sha256 |"
  echo "|---|---|---|---|"
  echo "| graphiql.min.js | graphiql@$GRAPHIQL_VERSION | MIT (LICENSE.graphiql) | $(digest graphiql.min.js) |"
  echo "| graphiql.min.css | graphiql@$GRAPHIQL_VERSION | MIT (LICENSE.graphiql) | $(digest graphiql.min.css) |"
  echo "| react.production.min.js | react@$REACT_VERSION | MIT (LICENSE.react) | $(digest react.production.min.js) |"
  echo "| react-dom.production.min.js | react-dom@$REACT_VERSION | MIT (LICENSE.react) | $(digest react-dom.production.min.js) |"
  echo
  echo "graphiql's UMD build bundles its own dependencies (@graphiql/react, @graphiql/toolkit,"
  echo "@graphiql/plugin-doc-explorer, @graphiql/plugin-history, graphql, codemirror 5,"
  echo "codemirror-graphql, markdown-it, Radix UI, and others); all are MIT-licensed"
  echo "according to their package metadata (\`npm view <name> license\`)."
  echo "react-dom@$REACT_VERSION carries the same MIT licence text as react (LICENSE.react)."
  echo
  echo "\`init.js\` beside them is this project's own code, not vendored."
} > "$out/NOTICE.md"
echo "vendored graphiql@$GRAPHIQL_VERSION, react@$REACT_VERSION into $out"
