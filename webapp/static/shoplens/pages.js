/* The Flask pages' navbar without Bootstrap's JavaScript (not shipped): the toggler opens
   the collapsed menu on a phone, the Admin and user menus open and close, a click outside
   or Escape closes them, and the Dark switch chooses the theme (assets/theme.js). */
(function () {
  function target(button) { return document.getElementById(button.getAttribute('data-shell-toggle')); }
  function closeMenus(except) {
    document.querySelectorAll('.dropdown-menu.show').forEach(function (menu) {
      if (menu === except) { return; }
      menu.classList.remove('show');
      var button = document.querySelector('[data-shell-toggle="' + menu.id + '"]');
      if (button) { button.setAttribute('aria-expanded', 'false'); }
    });
  }
  document.addEventListener('click', function (event) {
    var button = event.target.closest('[data-shell-toggle]');
    if (!button) {
      if (!event.target.closest('.dropdown-menu')) { closeMenus(null); }
      return;
    }
    var shown = target(button);
    if (!shown) { return; }
    var open = !shown.classList.contains('show');
    if (shown.classList.contains('dropdown-menu')) { closeMenus(shown); }
    shown.classList.toggle('show', open);
    button.setAttribute('aria-expanded', open ? 'true' : 'false');
  });
  document.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') { closeMenus(null); }
  });
  var theme = document.getElementById('shell-theme-switch');
  if (theme && window.shoplensTheme) {
    theme.checked = document.documentElement.getAttribute('data-bs-theme') === 'dark';
    theme.addEventListener('change', function () { window.shoplensTheme.choose(theme.checked); });
  }
})();
