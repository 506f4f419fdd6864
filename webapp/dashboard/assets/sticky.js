/* The sticky filter panel sits just under the sticky navbar, whose height changes when its
   links wrap (many pages, a narrow window): keep --shell-navbar-height equal to it
   (assets/shoplens.css uses it for the panel's top and height). */
(function () {
  var observed = null;
  function measure(navbar) {
    document.documentElement.style.setProperty(
      '--shell-navbar-height', Math.ceil(navbar.getBoundingClientRect().height) + 'px');
  }
  function watch() {
    var navbar = document.querySelector('.shell-navbar');
    if (!navbar || navbar === observed) { return; }
    observed = navbar;
    measure(navbar);
    if (window.ResizeObserver) {
      new window.ResizeObserver(function () { measure(navbar); }).observe(navbar);
    }
  }
  /* Dash renders the navbar after this file runs: look for it until it is there */
  var tries = 0;
  var timer = window.setInterval(function () {
    watch();
    tries += 1;
    if (observed || tries > 100) { window.clearInterval(timer); }
  }, 100);
  window.addEventListener('resize', function () { if (observed) { measure(observed); } });
})();
