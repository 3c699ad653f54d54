// attempt: double an array until memory runs out
// expect: memory_limit | error:RangeError | error:InternalError | timeout | step_limit
let a = [1];
while (true) a = a.concat(a);
