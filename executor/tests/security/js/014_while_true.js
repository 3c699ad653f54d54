// attempt: spin forever
// expect: timeout | step_limit
while (true) {}
