class Node { constructor(val, next = null) { this.val = val; this.next = next; } }
class LinkedList {
  constructor(items = []) { this.head = null; this.size = 0; for (const x of items) this.push(x); }
  push(v) {
    const n = new Node(v);
    if (!this.head) this.head = n;
    else { let c = this.head; while (c.next) c = c.next; c.next = n; }
    this.size++;
    return this;
  }
  reverse() {
    let prev = null, cur = this.head;
    while (cur) { [cur.next, prev, cur] = [prev, cur, cur.next]; }
    this.head = prev;
    return this;
  }
  *[Symbol.iterator]() { for (let c = this.head; c; c = c.next) yield c.val; }
  toString() { return [...this].join(' -> '); }
}
const l = new LinkedList([1, 2, 3, 4]);
console.log(l.toString(), l.size);
console.log(l.reverse().toString());
console.log(new LinkedList().toString() === '', [...l.push(0)].length);
