/* Clientside half of the chart and table menu (webapp/dashboard/toolbar.py): read what
   the panel shows as Dash holds it, for the server to turn into a file, and draw a
   chart's PNG with plotly.js. A file, not inline scripts: the Content-Security-Policy
   allows scripts from 'self' only. */
window.dash_clientside = window.dash_clientside || {};
window.dash_clientside.toolbar = {
  request: function (csvClicks, xlsxClicks, current) {
    var dc = window.dash_clientside;
    var trigger = dc.callback_context && dc.callback_context.triggered_id;
    if (!trigger || !trigger.panel || !(csvClicks || xlsxClicks)) {
      return dc.no_update;
    }
    var key = trigger.panel;
    var id = key.charAt(0) === '{' ? JSON.parse(key) : key;
    var node = window.dash_component_api.getLayout(id) || {};
    var props = node.props || node;
    var out = {name: (current && current.name) || key, title: current && current.title,
               at: Date.now(),
               format: /-toolbar-xlsx$/.test(trigger.type) ? 'xlsx' : 'csv'};
    if (props.figure) {
      out.figure = {data: props.figure.data || [], layout: props.figure.layout || {}};
    } else if (!props.columns) {
      out.content = props.children === undefined ? null : props.children;
    } else {
      out.table = {columns: props.columns || [], data: props.data || [],
                   derived_virtual_data: props.derived_virtual_data,
                   hidden_columns: props.hidden_columns || []};
    }
    return out;
  },
  png: function (clicks, current) {
    var dc = window.dash_clientside;
    var trigger = dc.callback_context && dc.callback_context.triggered_id;
    if (!clicks || !trigger || !window.Plotly) {
      return dc.no_update;
    }
    var holder = document.getElementById(trigger.panel);
    var graph = holder && (holder.classList.contains('js-plotly-plot') ? holder
                           : holder.querySelector('.js-plotly-plot'));
    if (graph) {
      var day = new Date().toISOString().slice(0, 10);
      window.Plotly.downloadImage(graph, {format: 'png', scale: 2,
        filename: ((current && current.name) || 'chart') + '-' + day});
    }
    return dc.no_update;
  }
};
