// Wakes the islands of a server-rendered page: loads one of Visita's WASM
// bundles and hands each <leptos-island> element to its entry point (named by
// the element's data-component). Pages work without this (real forms and
// links); it makes the live parts live. When every island is awake, the body
// gets data-hydrated="true", which the browser tests wait for.
// Islands are never nested in Visita, so only outermost ones are woken.
(async (js, wasm) => {
  try {
    const bundle = await import(js);
    await bundle.default({ module_or_path: wasm });
    bundle.hydrate();
    for (const island of document.querySelectorAll('leptos-island')) {
      if (island.parentElement && island.parentElement.closest('leptos-island')) continue;
      const wake = bundle[island.dataset.component];
      if (wake) {
        await wake(island);
      } else {
        console.error(`Visita: no entry point for the island ${island.dataset.component}`);
      }
    }
    document.body.dataset.hydrated = 'true';
  } catch (error) {
    console.error('Visita: the page could not start its live parts', error);
  }
})
