// For a page without islands whose next page needs the bundle (the invite
// page, before the waiting room). The bundle downloads now, into the
// browser's cache; a form marked data-ahead (the join button) is sent in
// the background meanwhile, and the browser moves to the next page once
// both are done: on a slow line the two waits overlap instead of adding up.
// Without JavaScript, or if anything here fails, the form posts as usual.
((js, wasm) => {
  const cached = Promise.all([fetch(js), fetch(wasm, { credentials: 'same-origin' })])
    .then((answers) => Promise.all(answers.map((a) => a.arrayBuffer())))
    .catch(() => undefined);
  for (const form of document.querySelectorAll('form[data-ahead]')) {
    form.addEventListener('submit', async (event) => {
      if (form.dataset.sending) return;
      event.preventDefault();
      form.dataset.sending = 'true';
      form.querySelectorAll('button').forEach((b) => (b.disabled = true));
      try {
        const answer = await fetch(form.action, {
          method: 'POST',
          headers: { accept: 'application/json' },
          body: new URLSearchParams(new FormData(form)),
        });
        const next = answer.ok && answer.headers.get('serverfnredirect') !== null
          ? answer.headers.get('location')
          : null;
        if (!next) throw new Error(`answered ${answer.status}`);
        await cached;
        window.location.assign(next);
      } catch {
        // Let the server say what went wrong, the no-JavaScript way.
        form.submit();
      }
    });
  }
  document.body.dataset.hydrated = 'true';
})
