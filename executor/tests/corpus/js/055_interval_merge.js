function merge(intervals) {
  const out = [];
  for (const [s, e] of intervals.slice().sort((a, b) => a[0] - b[0])) {
    if (out.length && s <= out[out.length - 1][1]) out[out.length - 1][1] = Math.max(out[out.length - 1][1], e);
    else out.push([s, e]);
  }
  return out;
}
console.log(JSON.stringify(merge([[1, 3], [2, 6], [8, 10], [15, 18], [17, 20]])));
function freeSlots(busy, start, end) {
  const slots = [];
  let cur = start;
  for (const [s, e] of merge(busy)) { if (s > cur) slots.push([cur, s]); cur = Math.max(cur, e); }
  if (cur < end) slots.push([cur, end]);
  return slots;
}
console.log(JSON.stringify(freeSlots([[9, 10], [12, 13], [9.5, 11]], 8, 17)));
