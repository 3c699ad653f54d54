// attempt: spin forever, catching everything that is thrown
// expect: timeout | step_limit
for (;;) {
  try {
    for (;;) {}
  } catch (e) {
    continue;
  } finally {
    continue;
  }
}
