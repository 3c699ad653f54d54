// attempt: an async loop that never yields control back
// expect: outside_subset:JS_ASYNC
(async () => { while (true) await null; })();
