// For a page without islands whose next page needs the bundle (the invite
// page, before the waiting room). The bundle downloads now, into the
// browser's cache, and a form marked data-ahead (the join button) is sent in
// the background meanwhile; the next page is fetched too and put in place of
// this one when all three are there. On a slow line the waits overlap
// instead of adding up. Without JavaScript, or if anything here fails, the
// form posts and the browser navigates as usual.
((js, wasm) => {
  const cached = Promise.all([fetch(js), fetch(wasm, { credentials: 'same-origin' })])
    .then((answers) => Promise.all(answers.map((a) => a.arrayBuffer())))
    .catch(() => undefined);

  // Shows `html` (the page at `url`) in place of this one, as a navigation
  // would: title, language, body, and its scripts run.
  const show = (url, html) => {
    const next = new DOMParser().parseFromString(html, 'text/html');
    document.title = next.title;
    document.documentElement.lang = next.documentElement.lang;
    history.replaceState(null, '', url);
    document.body.replaceWith(document.adoptNode(next.body));
    for (const inert of document.body.querySelectorAll('script')) {
      const script = document.createElement('script');
      for (const { name, value } of inert.attributes) script.setAttribute(name, value);
      script.textContent = inert.textContent;
      inert.replaceWith(script);
    }
    window.scrollTo(0, 0);
    // A screen reader hears the new page's heading, as after a navigation.
    const heading = document.querySelector('h1');
    if (heading) {
      heading.tabIndex = -1;
      heading.focus();
    }
  };

  for (const form of document.querySelectorAll('form[data-ahead]')) {
    form.addEventListener('submit', async (event) => {
      if (form.dataset.sending) return;
      event.preventDefault();
      form.dataset.sending = 'true';
      form.querySelectorAll('button').forEach((b) => (b.disabled = true));
      let next = null;
      try {
        const answer = await fetch(form.action, {
          method: 'POST',
          headers: { accept: 'application/json' },
          body: new URLSearchParams(new FormData(form)),
        });
        if (answer.ok && answer.headers.get('serverfnredirect') !== null) {
          next = answer.headers.get('location');
        }
      } catch {
        /* answered below */
      }
      if (!next) {
        // Let the server say what went wrong, the no-JavaScript way.
        form.submit();
        return;
      }
      try {
        const [page] = await Promise.all([fetch(next, { headers: { accept: 'text/html' } }), cached]);
        if (!page.ok) throw new Error(`answered ${page.status}`);
        show(next, await page.text());
      } catch {
        window.location.assign(next);
      }
    });
  }
  document.body.dataset.hydrated = 'true';
})
