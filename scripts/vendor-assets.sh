#!/usr/bin/env bash
# Copy the pinned front-end packages (package.json + package-lock.json) from
# node_modules into static/vendor/<pkg>/.  The result is committed: the
# service runs on intranets without internet, so nothing is fetched at run
# time and `make run` never needs npm.  Run this only to upgrade a package:
#   bash scripts/vendor-assets.sh        (npm ci, then copy)
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --no-audit --no-fund --ignore-scripts

NM=node_modules
OUT=static/vendor
rm -rf "$OUT"
mkdir -p "$OUT"

copy() {  # copy <package> <dest-subdir> <files...> (paths relative to the package)
    local pkg=$1 dest=$OUT/$2
    shift 2
    mkdir -p "$dest"
    for f in "$@"; do
        cp -r "$NM/$pkg/$f" "$dest/"
    done
    node -e "const p=require('./$NM/$pkg/package.json');console.log(p.name+' '+p.version+' ('+(p.license||'see package')+')')" \
        > "$dest/VERSION"
}

copy leaflet leaflet dist/leaflet.js dist/leaflet.js.map dist/leaflet.css dist/images LICENSE
copy leaflet.vectorgrid leaflet.vectorgrid dist/Leaflet.VectorGrid.bundled.min.js
copy leaflet.heat leaflet.heat dist/leaflet-heat.js LICENSE
copy @geoman-io/leaflet-geoman-free leaflet-geoman dist/leaflet-geoman.js dist/leaflet-geoman.css LICENSE
copy leaflet-imageoverlay-rotated leaflet-imageoverlay-rotated Leaflet.ImageOverlay.Rotated.js
copy pmtiles pmtiles dist/pmtiles.js
copy protomaps-leaflet protomaps-leaflet dist/protomaps-leaflet.js LICENSE

echo "vendored into $OUT:"
cat "$OUT"/*/VERSION
