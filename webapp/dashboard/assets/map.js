/* Choropleth style and tooltips for the world maps (dash-leaflet calls these through
   {"variable": "shoplensMap.style"}). A map's hideout carries
   {values: {ISO2: revenue}, max: number, selected: [ISO2, ...], currency}.

   dash-leaflet hands the style function the props of the moment the layer was created,
   and a hideout that changes while the country shapes are still loading is not applied
   when they arrive: the Geography map then stayed "no sales" grey (now and then, when its
   answer came before the 440 kB of shapes). So the Geography page also sends each hideout
   to ``apply`` (a clientside callback): it is kept by layer id, preferred by ``style`` and
   applied at once to the shapes already drawn. A map whose hideout never changes (a
   dashboard tile) uses its own props. */
window.shoplensMap = {
  current: {},   /* layer id -> the hideout ``apply`` last received */
  drawn: [],     /* the Leaflet layers of the countries, as onEachFeature met them */
  colour: function (share) {
    const stops = ['#eff6ff', '#bfdbfe', '#60a5fa', '#2563eb', '#1e3a8a'];
    if (share <= 0) return stops[0];
    return stops[Math.min(stops.length - 1, 1 + Math.floor(Math.sqrt(share) * (stops.length - 1)))];
  },
  hideoutOf: function (feature) {
    const map = window.shoplensMap;
    return map.current[feature.shoplensLayer] || feature.shoplensHideout || {};
  },
  style: function (feature, context) {
    /* the feature remembers its layer's id and props, for the tooltip and ``apply`` */
    feature.shoplensLayer = context && context.id;
    feature.shoplensHideout = (context && context.hideout) || {};
    const hideout = window.shoplensMap.hideoutOf(feature);
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
    window.shoplensMap.drawn.push(layer);
    layer.bindTooltip(function () {
      const hideout = window.shoplensMap.hideoutOf(feature);
      const value = (hideout.values || {})[feature.properties.iso_a2];
      const money = value ? (hideout.currency || '') + Math.round(value).toLocaleString('en-GB') : 'no sales';
      return feature.properties.name + ': ' + money;
    }, {sticky: true});
  },
  /* clientside callback: keep ``hideout`` for the layer ``id`` and restyle its shapes */
  apply: function (hideout, id) {
    const map = window.shoplensMap;
    map.current[id] = hideout || {};
    map.drawn = map.drawn.filter(function (layer) { return layer._map; });  /* still shown */
    map.drawn.forEach(function (layer) {
      if (layer.feature && layer.feature.shoplensLayer === id) {
        layer.setStyle(map.style(layer.feature, {id: id, hideout: layer.feature.shoplensHideout}));
      }
    });
    return window.dash_clientside.no_update;
  }
};
