// attempt: network request with fetch
// expect: outside_subset:JS_HOST_API | outside_subset:JS_ASYNC
fetch('http://127.0.0.1:80/').then(r => r.text()).then(t => console.log(t));
