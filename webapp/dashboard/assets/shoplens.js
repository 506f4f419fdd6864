/* Clientside functions of the dashboard (a file, not inline scripts: the
   Content-Security-Policy allows scripts from 'self' only). */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  shoplens: {
    applyTheme: function (dark) {
      document.documentElement.setAttribute('data-bs-theme', dark ? 'dark' : 'light');
      return '';
    }
  }
});
