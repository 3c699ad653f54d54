// attempt: recursion that catches the stack overflow and recurses again (exponential)
// expect: timeout | step_limit | error:InternalError | error:RangeError
function f() { try { f(); } catch (e) { f(); } }
f();
