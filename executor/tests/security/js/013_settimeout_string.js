// attempt: run a string through setTimeout
// expect: outside_subset:JS_HOST_API | outside_subset:JS_DYNAMIC_EVAL
setTimeout('std.writeFile("{{CANARY}}", "x")', 0);
