function Animal(name) { this.name = name; }
Animal.prototype.speak = function () { return `${this.name} makes a sound`; };
function Dog(name) { Animal.call(this, name); }
Dog.prototype = Object.create(Animal.prototype);
Dog.prototype.constructor = Dog;
Dog.prototype.speak = function () { return `${Animal.prototype.speak.call(this)}: woof`; };
const d = new Dog('rex');
console.log(d.speak(), d instanceof Animal, Object.getPrototypeOf(d) === Dog.prototype);
const proto = { greet() { return 'hi ' + this.n; } };
const o = Object.create(proto, { n: { value: 'bob', enumerable: true } });
console.log(o.greet(), Object.keys(o).join(','), proto.isPrototypeOf(o));
console.log(typeof Dog, typeof d, d.constructor.name);
