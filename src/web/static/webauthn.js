// Runs the WebAuthn ceremony behind a passkey button: ask the server for options, let the
// browser create or use the credential (@simplewebauthn/browser), send the answer back, and
// follow the server's redirect. The CSRF token travels in a header.
const { startRegistration, startAuthentication, browserSupportsWebAuthn } = globalThis.SimpleWebAuthnBrowser ?? {};

for (const form of document.querySelectorAll('form[data-webauthn]')) {
  const errorBox = form.querySelector('.passkey-error');
  const showError = (message) => {
    errorBox.textContent = message;
    errorBox.hidden = false;
  };
  if (!startRegistration || !browserSupportsWebAuthn()) {
    showError('This browser cannot use passkeys.');
    continue;
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    const csrf = form.querySelector('input[name="_csrf"]').value;
    const headers = { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': csrf };
    try {
      const optionsResponse = await fetch(form.dataset.optionsUrl, { method: 'POST', headers, body: '{}', credentials: 'same-origin' });
      const optionsJSON = await optionsResponse.json();
      if (!optionsResponse.ok) return showError(optionsJSON.error ?? 'The server refused the request.');
      const answer = form.dataset.webauthn === 'register' ? await startRegistration({ optionsJSON }) : await startAuthentication({ optionsJSON });
      const next = new URLSearchParams(window.location.search).get('next');
      const verifyUrl = next ? `${form.action}?${new URLSearchParams({ next })}` : form.action;
      const verified = await fetch(verifyUrl, { method: 'POST', headers, body: JSON.stringify(answer), credentials: 'same-origin' });
      const result = await verified.json();
      if (!verified.ok) return showError(result.error ?? 'The passkey was not accepted.');
      window.location.assign(result.redirect);
    } catch (error) {
      showError(error && error.name === 'NotAllowedError' ? 'The passkey request was cancelled or timed out.' : 'The passkey could not be used.');
    }
  });
}
