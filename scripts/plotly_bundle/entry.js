'use strict';
// The plotly.js Shoplens' charts need: the core (which holds the scatter trace) and the
// trace types webapp/dashboard draws. tests/webapp/test_plotly_bundle.py checks that every
// trace type the figures create is in TRACES of build.sh and in the bundle.
var Plotly = require('plotly.js/lib/core');
Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/heatmap'),
    require('plotly.js/lib/treemap'),
]);
module.exports = Plotly;
