/* Clientside functions of the dashboard (a file, not inline scripts: the
   Content-Security-Policy allows scripts from 'self' only). */

/* dcc.Markdown (the charts' text alternatives, notes) fetches highlight.js for code
   blocks whenever one mounts, then draws every Markdown again once it has arrived: on each
   page load a 140 kB script was fetched and parsed after the charts, the last thing the
   page did (~0.1 s on the 2-core VM). Shoplens writes no code blocks, so Markdown is given
   this highlighter (it takes ``window.hljs`` when set), which leaves code as plain text; so
   is the DataTable's Markdown (an empty ``value`` makes it escape the code), though the
   DataTable still loads its own copy with the table's code, at the same time. */
window.hljs = window.hljs || {
  getLanguage: function () { return undefined; },
  highlight: function () { return {value: ''}; },
  highlightAuto: function () { return {value: ''}; },
  highlightElement: function () {}
};
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  shoplens: {
    // the chips' × and "Clear all" (webapp/dashboard/chips.py): what was clicked, or
    // nothing when the chips were only re-rendered (n_clicks 0) by a filter change
    chipClicked: function () {
      var fired = window.dash_clientside.callback_context.triggered.filter(
        function (item) { return item.value; });
      if (!fired.length) { return window.dash_clientside.no_update; }
      var propId = fired[0].prop_id;
      var id = propId.slice(0, propId.lastIndexOf('.'));
      if (id === 'shell-chips-clear') { return {clear: true, at: Date.now()}; }
      var chip = JSON.parse(id);
      return {param: chip.param, value: chip.value, at: Date.now()};
    },
    // the navbar's links (webapp/dashboard/shell.py): each page's path with the URL's
    // filter parameters (``names``), the page's own parameters left behind
    linksWithFilters: function (search, ids, names) {
      var kept = new URLSearchParams();
      new URLSearchParams(search || '').forEach(function (value, name) {
        if (names.indexOf(name) >= 0) { kept.append(name, value); }
      });
      var query = kept.toString();
      return ids.map(function (id) { return id.path + (query ? '?' + query : ''); });
    },
    // the address's query string for the sidebar's callbacks (webapp/dashboard/shell.py
    // sync_filters, sync_comparison) when it is not the one the sidebar shows already
    // (``synced``, without "?"): the URL the sidebar wrote itself needs no request back
    urlToReview: function (search, synced) {
      var query = (search || '').replace(/^\?/, '');
      if (synced !== null && synced !== undefined && query === synced) {
        return window.dash_clientside.no_update;
      }
      return {search: query, at: Date.now()};
    },
    applyTheme: function (dark) {
      document.documentElement.setAttribute('data-bs-theme', dark ? 'dark' : 'light');
      return '';
    }
  }
});

// a KPI's definition (a <details>, webapp/dashboard/components.py info) closes on a click
// elsewhere or on Escape, as the popover it replaced did
(function () {
  var closeOpen = function (keep) {
    document.querySelectorAll('details.kpi-info-details[open]').forEach(function (open) {
      if (!keep || !open.contains(keep)) { open.removeAttribute('open'); }
    });
  };
  document.addEventListener('click', function (event) { closeOpen(event.target); });
  document.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') { closeOpen(null); }
  });
})();
