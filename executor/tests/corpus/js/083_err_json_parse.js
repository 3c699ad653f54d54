const good = JSON.parse('{"ok": true}');
console.log(good.ok);
const bad = JSON.parse('{"ok": tru}');
console.log(bad);
