const Store = (() => {
  let state = { items: [], total: 0 };
  const listeners = [];
  const notify = () => listeners.forEach(l => l(state));
  return {
    add(name, price) { state = { items: [...state.items, name], total: state.total + price }; notify(); },
    subscribe(fn) { listeners.push(fn); },
    get snapshot() { return JSON.stringify(state); },
  };
})();
Store.subscribe(s => console.log(`now ${s.items.length} items, total ${s.total}`));
Store.add('tea', 3);
Store.add('cake', 4.5);
console.log(Store.snapshot, typeof Store.state);
