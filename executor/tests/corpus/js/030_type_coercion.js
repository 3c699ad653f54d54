console.log(1 + '2', '3' * '4', '10' / 2, '5' - 2, true + 1, null + 1, undefined + 1);
console.log([] + [], [1, 2] + [3], typeof ([] + {}), 1 < 2 < 3, 3 > 2 > 1);
console.log('b' + 'a' + +'a' + 'a', !!'', !!'0', !![], !!0, !!NaN);
console.log(0 == '', 0 == '0', '' == '0', null == undefined, null === undefined, NaN == NaN);
console.log(typeof null, typeof undefined, typeof 1, typeof 'a', typeof {}, typeof [], typeof (() => 1), typeof Symbol());
console.log(String(null), String([1, [2, 3]]), String({}), `${undefined}`);
console.log(Object.is(NaN, NaN), Number.isNaN('x'), isNaN('x'), [NaN].includes(NaN), [NaN].indexOf(NaN));
