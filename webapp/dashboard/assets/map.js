/* Choropleth style and tooltips for the Geography map (dash-leaflet calls these through
   {"variable": "shoplensMap.style"}). The page's hideout carries
   {values: {ISO2: revenue}, max: number, selected: [ISO2, ...]}. */
window.shoplensMap = {
  colour: function (share) {
    const stops = ['#eff6ff', '#bfdbfe', '#60a5fa', '#2563eb', '#1e3a8a'];
    if (share <= 0) return stops[0];
    return stops[Math.min(stops.length - 1, 1 + Math.floor(Math.sqrt(share) * (stops.length - 1)))];
  },
  style: function (feature, context) {
    const hideout = (context && context.hideout) || {};
    window.shoplensMap.latest = hideout;  /* styles are re-applied when the hideout changes */
    const values = hideout.values || {};
    const code = feature.properties.iso_a2;
    const value = values[code];
    const selected = (hideout.selected || []).indexOf(code) >= 0;
    const dark = document.documentElement.getAttribute('data-bs-theme') === 'dark';
    return {
      weight: selected ? 2.5 : 0.6,
      color: selected ? '#f59e0b' : (dark ? '#334155' : '#94a3b8'),
      fillOpacity: value ? 0.9 : 0.5,
      fillColor: value ? window.shoplensMap.colour(value / (hideout.max || value)) : (dark ? '#1f2937' : '#e2e8f0')
    };
  },
  hover: function () { return {weight: 2, color: '#0f172a'}; },
  tooltip: function (feature, layer) {
    layer.bindTooltip(function () {
      const hideout = window.shoplensMap.latest || {};
      const value = (hideout.values || {})[feature.properties.iso_a2];
      const money = value ? (hideout.currency || '') + Math.round(value).toLocaleString('en-GB') : 'no sales';
      return feature.properties.name + ': ' + money;
    }, {sticky: true});
  }
};
