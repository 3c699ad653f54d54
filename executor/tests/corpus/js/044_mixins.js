const Serializable = Base => class extends Base { serialize() { return JSON.stringify(this); } };
const Comparable = Base => class extends Base { compareTo(o) { return this.key() < o.key() ? -1 : this.key() > o.key() ? 1 : 0; } };
class Entity { constructor(id) { this.id = id; } }
class User extends Serializable(Comparable(Entity)) {
  constructor(id, name) { super(id); this.name = name; }
  key() { return this.name; }
}
const users = [new User(2, 'zed'), new User(1, 'amy'), new User(3, 'kim')];
console.log(users.sort((a, b) => a.compareTo(b)).map(u => u.serialize()).join(' '));
console.log(users[0] instanceof Entity, Object.getPrototypeOf(User.prototype).constructor.name === '');
