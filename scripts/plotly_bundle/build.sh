#!/usr/bin/env bash
# Builds the partial plotly.js bundle the dashboard ships
# (webapp/dashboard/assets/vendor/plotly-shoplens.min.js): plotly.js with the trace types
# of TRACES only, 1.3 MB instead of the 4.8 MB of plotly.py's plotly.min.js. dcc.Graph uses
# window.Plotly when an asset defines it and then never fetches its own copy.
#
# Needs node and npm (the npm registry); run it again after upgrading plotly (the Python
# package): PLOTLY_JS must be the plotly.js version plotly.py bundles
# (python -c "from plotly.offline import get_plotlyjs_version as v; print(v())"),
# which tests/webapp/test_plotly_bundle.py checks.
set -euo pipefail
cd "$(dirname "$0")"
PLOTLY_JS=4.1.1
TRACES="scatter bar heatmap treemap"   # scatter is in plotly.js' core
OUT=../../webapp/dashboard/assets/vendor/plotly-shoplens.min.js
npm install --no-audit --no-fund --ignore-scripts --no-save "plotly.js@${PLOTLY_JS}" esbuild@0.25.12 >/dev/null
mkdir -p "$(dirname "$OUT")"
# the official build's settings (plotly.js/esbuild-config.js); the maplibre-gl CSS that
# plotly.js' registry requires for map traces is not wanted (no map traces): dropped
npx esbuild entry.js --bundle --minify --format=iife --global-name=Plotly \
    --define:global=window --define:define.amd=false --target=es2016 \
    --legal-comments=eof --outfile=build/plotly-shoplens.min.js --log-level=warning
{
  printf '/* plotly.js v%s (MIT License, Copyright 2012-2026 Plotly, Inc., https://github.com/plotly/plotly.js),\n' "$PLOTLY_JS"
  printf '   partial bundle for Shoplens built by scripts/plotly_bundle/build.sh; traces: %s */\n' "$TRACES"
  cat build/plotly-shoplens.min.js
} > "$OUT"
rm -rf build
echo "wrote $OUT ($(wc -c < "$OUT") bytes)"
