// Progressive enhancement only: every page works without this file.
(function () {
  'use strict';

  // Keep sign-in parameters out of the address bar and history once the page has loaded.
  if (/[?&](code|state|user_code)=/.test(window.location.search) && window.history.replaceState) {
    window.history.replaceState(null, '', window.location.pathname);
  }

  document.addEventListener('DOMContentLoaded', function () {
    setupScopeForm();
    setupCopyButtons();
    setupHandoffStatus();
  });

  // After approving a script's request: follow it until the script picks the tokens up (or
  // gives up, or the request expires), so the admin need not wonder whether it worked.
  function setupHandoffStatus() {
    var box = document.querySelector('[data-status-url]');
    if (!box || !window.fetch) return;
    var text = box.querySelector('.handoff-state');
    var url = box.getAttribute('data-status-url');
    var delay = 2000;
    var failures = 0;
    function poll() {
      fetch(url, { headers: { accept: 'application/json' }, cache: 'no-store' })
        .then(function (res) {
          return res.json();
        })
        .then(function (s) {
          failures = 0;
          if (!s || typeof s.state !== 'string') return;
          if (s.state !== text.getAttribute('data-state') && s.state !== 'unknown') {
            text.setAttribute('data-state', s.state);
            text.textContent = s.message;
            if (s.state === 'expired' || s.state === 'cancelled') box.classList.add('denied');
          }
          if (s.state === 'approved') setTimeout(poll, delay);
        })
        .catch(function () {
          // Offline for a moment: keep trying, more slowly, then leave the page as it is.
          failures++;
          if (failures < 10) setTimeout(poll, delay * 2);
        });
    }
    setTimeout(poll, delay);
  }

  function setupScopeForm() {
    var form = document.getElementById('scope-form');
    if (!form) return;
    var boxes = Array.prototype.slice.call(form.querySelectorAll('input[name="scope"]'));
    var start = document.getElementById('start');
    var status = document.getElementById('selection-status');
    var filter = document.getElementById('filter');

    function update() {
      var n = boxes.filter(function (b) {
        return b.checked;
      }).length;
      start.disabled = n === 0;
      status.textContent =
        n === 0
          ? 'Pick at least one scope to start.'
          : n + (n === 1 ? ' scope selected' : ' scopes selected');
      Array.prototype.forEach.call(form.querySelectorAll('fieldset.group'), function (fs) {
        var inGroup = fs.querySelectorAll('input[name="scope"]');
        var picked = fs.querySelectorAll('input[name="scope"]:checked').length;
        fs.querySelector('.count').textContent = '(' + picked + ' of ' + inGroup.length + ')';
        var all = fs.querySelector('[data-select-all]');
        all.checked = picked === inGroup.length;
        all.indeterminate = picked > 0 && picked < inGroup.length;
      });
    }

    Array.prototype.forEach.call(form.querySelectorAll('label.select-all'), function (l) {
      l.hidden = false;
    });
    Array.prototype.forEach.call(form.querySelectorAll('[data-select-all]'), function (all) {
      all.addEventListener('change', function () {
        var fs = all.closest('fieldset');
        Array.prototype.forEach.call(fs.querySelectorAll('li.scope'), function (li) {
          if (!li.hidden) li.querySelector('input').checked = all.checked;
        });
        update();
      });
    });
    boxes.forEach(function (b) {
      b.addEventListener('change', update);
    });

    if (filter) {
      var noMatch = form.querySelector('.no-match');
      var filterStatus = document.getElementById('filter-status');
      filter.parentElement.hidden = false;
      filter.addEventListener('input', function () {
        var q = filter.value.trim().toLowerCase();
        var total = 0;
        Array.prototype.forEach.call(form.querySelectorAll('fieldset.group'), function (fs) {
          var visible = 0;
          Array.prototype.forEach.call(fs.querySelectorAll('li.scope'), function (li) {
            var show = !q || li.getAttribute('data-text').indexOf(q) !== -1;
            li.hidden = !show;
            if (show) visible++;
          });
          fs.hidden = visible === 0;
          total += visible;
        });
        if (noMatch) noMatch.hidden = total !== 0;
        if (filterStatus) {
          filterStatus.textContent = !q
            ? ''
            : total === 0
              ? 'No scope matches.'
              : total + (total === 1 ? ' scope matches.' : ' scopes match.');
        }
      });
    }

    Array.prototype.forEach.call(document.querySelectorAll('a[data-preset]'), function (a) {
      a.addEventListener('click', function (e) {
        e.preventDefault();
        var wanted = a.getAttribute('data-preset').split(' ');
        boxes.forEach(function (b) {
          b.checked = wanted.indexOf(b.value) !== -1;
        });
        Array.prototype.forEach.call(document.querySelectorAll('a[data-preset]'), function (o) {
          if (o === a) o.setAttribute('aria-current', 'true');
          else o.removeAttribute('aria-current');
        });
        update();
        start.focus();
      });
    });
    update();
  }

  function setupCopyButtons() {
    var status = document.getElementById('copy-status');
    Array.prototype.forEach.call(document.querySelectorAll('button[data-copy]'), function (btn) {
      btn.hidden = false;
      var label = btn.querySelector('.label') || btn;
      var original = label.textContent;
      var timer = null;
      btn.addEventListener('click', function () {
        var field = document.getElementById(btn.getAttribute('data-copy'));
        var value = field.value;
        var name = field.getAttribute('aria-labelledby');
        var heading = name ? document.getElementById(name) : null;
        var done = function () {
          label.textContent = 'Copied';
          btn.classList.add('is-copied');
          field.classList.add('copied');
          if (status)
            status.textContent =
              (heading ? heading.textContent : 'Value') + ' copied to the clipboard.';
          clearTimeout(timer);
          timer = setTimeout(function () {
            label.textContent = original;
            btn.classList.remove('is-copied');
            field.classList.remove('copied');
          }, 2000);
        };
        var fallback = function () {
          field.focus();
          field.select();
          try {
            if (document.execCommand('copy')) done();
          } catch (e) {
            // Selected: the user can press Ctrl+C.
          }
        };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(value).then(done, fallback);
        } else {
          fallback();
        }
      });
    });
  }
})();
