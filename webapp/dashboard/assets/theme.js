/* The light/dark theme, one choice for the dashboard and the Flask pages (sign-in,
   account, admin: templates/base.html loads this file in its <head>).

   The choice is the dashboard's "Dark" switch (shell-theme-switch), which Dash keeps in
   localStorage through its persistence under KEY as [chosen, layout's value]. Until the
   user flips a switch the theme follows the system (prefers-color-scheme): KEY is written
   with the system's choice and AUTO marks it as not the user's, so the next visit follows
   the system again. A file, not an inline script: the Content-Security-Policy allows
   scripts from 'self' only. */
(function () {
  var KEY = '_dash_persistence.shell-theme-switch.value.true';
  var AUTO = 'shoplens.theme.auto';
  var root = document.documentElement;

  function systemDark() {
    return !!(window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches);
  }
  function stored() {
    try {
      var value = JSON.parse(window.localStorage.getItem(KEY));
      return Array.isArray(value) ? !!value[0] : null;
    } catch (e) { return null; }
  }
  function apply(dark) {
    root.setAttribute('data-bs-theme', dark ? 'dark' : 'light');
  }
  function remember(dark, chosen) {
    try {
      window.localStorage.setItem(KEY, JSON.stringify([!!dark, false]));
      if (chosen) { window.localStorage.removeItem(AUTO); }
      else { window.localStorage.setItem(AUTO, '1'); }
    } catch (e) { /* private mode: the theme simply is not remembered */ }
  }
  function isDark() {
    var chosen = stored();
    var auto = false;
    try { auto = !!window.localStorage.getItem(AUTO); } catch (e) { auto = true; }
    if (chosen === null || auto) {
      remember(systemDark(), false);   /* Dash's switch then starts as the system says */
      return systemDark();
    }
    return chosen;
  }

  apply(isDark());

  /* The Flask pages' switch (pages.js) chooses; the dashboard's switch calls applyTheme
     (assets/shoplens.js) on load and on each flip: from the second call on, it was the
     user. */
  window.shoplensTheme = {isDark: isDark, apply: apply,
                          choose: function (dark) { remember(dark, true); apply(dark); }};
  var clientside = window.dash_clientside && window.dash_clientside.shoplens;
  if (clientside && clientside.applyTheme) {
    var original = clientside.applyTheme;
    var calls = 0;
    clientside.applyTheme = function (dark) {
      calls += 1;
      if (calls > 1) { remember(dark, true); }
      return original(dark);
    };
  }
})();
