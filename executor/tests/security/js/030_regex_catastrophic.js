// attempt: catastrophic regex backtracking inside the regex engine
// expect: timeout | step_limit
console.log(/(a+)+$/.test('a'.repeat(40) + 'b'));
