// Progressive enhancement of the idle-logout warning: count down, show the banner five
// minutes before the timeout, and extend the session without reloading the page.
const banner = document.getElementById('session-warning');
if (banner) {
  const warnBeforeMs = 5 * 60 * 1000;
  const timeoutMs = Number(banner.dataset.timeoutSeconds) * 1000;
  const remainingText = document.getElementById('session-warning-remaining');
  const form = document.getElementById('session-extend-form');
  let deadline = Date.now() + Number(banner.dataset.secondsLeft) * 1000;
  banner.classList.add('js-timer');

  const tick = () => {
    const left = deadline - Date.now();
    if (left <= 0) {
      // Ask the server rather than assume: another tab may have kept the session alive.
      clearInterval(timer);
      window.location.reload();
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
    if (!response.ok) {
      window.location.reload();
      return;
    }
    const { secondsLeft } = await response.json();
    deadline = Date.now() + (secondsLeft ?? timeoutMs / 1000) * 1000;
    tick();
  });
}
