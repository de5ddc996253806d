// Progressive enhancement of the idle-logout warning: count down, show the banner five
// minutes before the timeout, and extend the session without reloading the page. When the
// countdown ends the page asks the server how long is really left (/session/status, which
// does not count as activity): another tab may have kept the session alive; if not, the
// session has ended and the page goes to the login page.
const banner = document.getElementById('session-warning');
if (banner) {
  const warnBeforeMs = 5 * 60 * 1000;
  const timeoutMs = Number(banner.dataset.timeoutSeconds) * 1000;
  const remainingText = document.getElementById('session-warning-remaining');
  const form = document.getElementById('session-extend-form');
  let deadline = Date.now() + Number(banner.dataset.secondsLeft) * 1000;
  let asking = false;
  banner.classList.add('js-timer');

  const signedOut = (reason) => {
    clearInterval(timer);
    const next = window.location.pathname + window.location.search;
    window.location.assign(`/login?${new URLSearchParams({ next, reason: reason || 'timeout' })}`);
  };

  const askServer = async () => {
    asking = true;
    try {
      const response = await fetch('/session/status', { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
      if (response.status === 401) {
        const body = await response.json().catch(() => ({}));
        return signedOut(body.reason);
      }
      if (response.ok) {
        const { secondsLeft } = await response.json();
        // Still alive (another tab was busy): count again from what the server says.
        deadline = Date.now() + Math.max(1, Number(secondsLeft) || 0) * 1000;
      } else {
        deadline = Date.now() + 5000;
      }
    } catch {
      // Offline for a moment: ask again shortly.
      deadline = Date.now() + 5000;
    } finally {
      asking = false;
    }
  };

  const tick = () => {
    const left = deadline - Date.now();
    if (left <= 0) {
      if (!asking) void askServer();
      return;
    }
    const warn = left <= warnBeforeMs;
    banner.classList.toggle('is-visible', warn);
    if (warn && remainingText) {
      const minutes = Math.floor(left / 60000);
      const seconds = Math.floor((left % 60000) / 1000);
      remainingText.textContent = `${minutes}:${String(seconds).padStart(2, '0')}`;
    }
  };
  const timer = setInterval(tick, 1000);
  tick();

  form?.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = new URLSearchParams(new FormData(form));
    let response;
    try {
      response = await fetch('/session/extend', {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body,
        credentials: 'same-origin',
      });
    } catch {
      // Offline for a moment: fall back to the plain form, which reports its own outcome.
      form.submit();
      return;
    }
    if (response.status === 401) return signedOut('timeout');
    if (!response.ok) {
      window.location.reload();
      return;
    }
    const { secondsLeft } = await response.json();
    deadline = Date.now() + (secondsLeft ?? timeoutMs / 1000) * 1000;
    tick();
  });
}
