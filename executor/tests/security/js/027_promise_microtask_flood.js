// attempt: flood the microtask queue forever with promises
// expect: outside_subset:JS_ASYNC | timeout | step_limit | memory_limit
function again() { return Promise.resolve().then(again); }
again();
