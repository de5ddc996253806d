// Progressive enhancement of the MFA pages: "Copy" buttons (data-copy-target: the id of the
// element whose text is copied; a list is copied one item per line) and "Print" buttons
// (data-print). The buttons are rendered `hidden` and shown here, so that without JavaScript
// (or without a clipboard) no button is left that does nothing; the text itself stays
// selectable. What happened is said in the aria-live element named by data-copy-status.

/** The text to copy: a list's items one per line, anything else its text, without spaces around. */
function textOf(element) {
  if (element.matches('ul, ol')) return [...element.querySelectorAll('li')].map((li) => li.textContent.trim()).join('\n');
  return element.textContent.trim();
}

/** Selects the element's text, so that Ctrl+C (or the context menu) copies it when we could not. */
function select(element) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

function say(status, message) {
  if (!status) return;
  // Emptied first, so that the same message after a second click is announced again.
  status.textContent = '';
  setTimeout(() => {
    status.textContent = message;
  }, 50);
}

if (navigator.clipboard && typeof navigator.clipboard.writeText === 'function') {
  for (const button of document.querySelectorAll('button[data-copy-target]')) {
    const target = document.getElementById(button.dataset.copyTarget);
    if (!target) continue;
    const status = button.dataset.copyStatus ? document.getElementById(button.dataset.copyStatus) : null;
    button.hidden = false;
    button.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(textOf(target));
        say(status, 'Copied');
      } catch {
        select(target);
        say(status, 'Could not copy: the text is selected, press Ctrl+C (⌘C on a Mac) to copy it.');
      }
    });
  }
}

if (typeof window.print === 'function') {
  for (const button of document.querySelectorAll('button[data-print]')) {
    button.hidden = false;
    button.addEventListener('click', () => window.print());
  }
}
