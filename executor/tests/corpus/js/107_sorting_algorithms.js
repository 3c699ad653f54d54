const quicksort = xs => xs.length <= 1 ? xs : (p => [...quicksort(xs.filter(x => x < p)), ...xs.filter(x => x === p), ...quicksort(xs.filter(x => x > p))])(xs[xs.length >> 1]);
function mergeSort(xs) {
  if (xs.length <= 1) return xs;
  const a = mergeSort(xs.slice(0, xs.length >> 1)), b = mergeSort(xs.slice(xs.length >> 1)), out = [];
  while (a.length && b.length) out.push(a[0] <= b[0] ? a.shift() : b.shift());
  return [...out, ...a, ...b];
}
function insertion(xs) {
  xs = [...xs];
  for (let i = 1; i < xs.length; i++) { const k = xs[i]; let j = i - 1; while (j >= 0 && xs[j] > k) { xs[j + 1] = xs[j]; j--; } xs[j + 1] = k; }
  return xs;
}
const data = [38, 27, 43, 3, 9, 82, 10, 3, -5];
console.log(quicksort(data).join(','), mergeSort(data).join(','), insertion(data).join(','));
console.log(String(quicksort(data)) === String(mergeSort(data)) && String(mergeSort(data)) === String([...data].sort((a, b) => a - b)));
