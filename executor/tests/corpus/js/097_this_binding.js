const counter = {
  count: 0,
  inc() { this.count++; return this; },
  incLater() { return [1, 2].map(() => ++this.count); },
};
counter.inc().inc();
console.log(counter.count, counter.incLater().join(','));
function whoAmI() { return this === undefined ? 'undefined' : typeof this; }
'use strict';
const bound = whoAmI.bind({ n: 1 });
console.log(bound(), whoAmI.call('str'), whoAmI.apply(42));
class Btn {
  constructor(label) { this.label = label; this.onClick = this.onClick.bind(this); }
  onClick() { return `clicked ${this.label}`; }
}
const { onClick } = new Btn('ok');
console.log(onClick());
const greet = function (greeting, punct) { return `${greeting}, ${this.name}${punct}`; };
console.log(greet.call({ name: 'ann' }, 'hi', '!'), greet.apply({ name: 'bo' }, ['yo', '?']));
