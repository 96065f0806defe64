#!/usr/bin/env bash
# Re-create graphql_api/static/graphiql/ (the GraphiQL page's third-party files) from the npm registry.
#
# The files are committed, so neither `make serve` nor `sam build` needs npm or the internet; this script only
# documents and repeats where they came from. It takes the versions Strawberry's own GraphiQL template names
# and refuses any file whose SHA-384 differs from the `integrity` value that template pins (the page keeps
# those values, so the browser checks them again). Needs npm and openssl.
set -euo pipefail
cd "$(dirname "$0")/.."

DEST=graphql_api/static/graphiql
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# package@version  file-in-package  vendored-name  sha384 (Strawberry 0.341's graphiql.html)
FILES=(
  "react@18.2.0 umd/react.production.min.js react-18.2.0.production.min.js tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8"
  "react-dom@18.2.0 umd/react-dom.production.min.js react-dom-18.2.0.production.min.js bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh"
  "graphiql@3.8.3 graphiql.min.js graphiql-3.8.3.min.js HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie"
  "graphiql@3.8.3 graphiql.min.css graphiql-3.8.3.min.css Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM"
  "@graphiql/plugin-explorer@1.0.2 dist/index.umd.js plugin-explorer-1.0.2.umd.js 2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9"
  "@graphiql/plugin-explorer@1.0.2 dist/style.css plugin-explorer-1.0.2.css 5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi"
)
# Whose licence texts go into THIRD_PARTY_LICENSES.txt (the explorer plugin bundles graphiql-explorer; its own
# package ships no LICENSE file: it is MIT like the rest of the GraphiQL monorepo, whose text graphiql carries).
LICENSED=(react@18.2.0 react-dom@18.2.0 graphiql@3.8.3 graphiql-explorer@0.9.0)

unpack() {  # package@version -> directory of the unpacked package
  local spec=$1 dir="$WORK/${1//[@\/]/_}"
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$spec" > name && tar -xzf "$(cat name)")
  fi
  echo "$dir/package"
}

mkdir -p "$DEST"
for line in "${FILES[@]}"; do
  read -r spec path name sha <<< "$line"
  src="$(unpack "$spec")/$path"
  got=$(openssl dgst -sha384 -binary "$src" | openssl base64 -A)
  if [ "$got" != "$sha" ]; then
    echo "$spec $path: sha384-$got, expected sha384-$sha" >&2
    exit 1
  fi
  cp "$src" "$DEST/$name"
  echo "$name  sha384-$sha"
done

{
  echo "Third-party files in this folder, unmodified from the npm registry (see scripts/vendor-graphiql.sh)."
  echo "@graphiql/plugin-explorer 1.0.2 is MIT-licensed by the GraphQL Contributors (the graphiql text below) and"
  echo "bundles graphiql-explorer 0.9.0."
  for spec in "${LICENSED[@]}"; do
    printf '\n==== %s ====\n\n' "$spec"
    cat "$(unpack "$spec")/LICENSE"
  done
} > "$DEST/THIRD_PARTY_LICENSES.txt"
