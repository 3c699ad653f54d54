// attempt: block the thread forever with Atomics.wait on a SharedArrayBuffer
// expect: outside_subset:JS_HOST_API | timeout | step_limit | error:*
const sab = new SharedArrayBuffer(16);
const ia = new Int32Array(sab);
Atomics.wait(ia, 0, 0);
console.log('woke up');
