// attempt: start a worker thread
// expect: outside_subset:JS_HOST_API | error:ReferenceError
const w = new Worker('data:text/javascript,while(true){}');
w.postMessage('go');
