// attempt: spin inside a native call (Array.prototype.sort calling back forever)
// expect: timeout | step_limit
const xs = Array.from({ length: 1000 }, (_, i) => i);
xs.sort(() => { for (;;) {} });
