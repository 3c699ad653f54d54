class IdGen {
  static #next = 1;
  static count = 0;
  #id;
  constructor() { this.#id = IdGen.#next++; IdGen.count++; }
  get id() { return this.#id; }
  #secret() { return `secret-${this.#id}`; }
  reveal() { return this.#secret(); }
  static isGen(o) { return #id in o; }
}
const a = new IdGen(), b = new IdGen();
console.log(a.id, b.id, IdGen.count, b.reveal(), IdGen.isGen(a), IdGen.isGen({}));
class Config {
  static defaults = { debug: false };
  static { Config.ready = true; }
}
console.log(Config.ready, JSON.stringify(Config.defaults));
