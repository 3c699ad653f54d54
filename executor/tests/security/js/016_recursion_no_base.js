// attempt: unbounded recursion
// expect: error:InternalError | error:RangeError | step_limit | memory_limit
function f(n) { return f(n + 1) + 1; }
f(0);
