function process(items) {
  try {
    for (const i of items) {
      if (i === 0) throw new Error('zero is not allowed');
      console.log('item', 10 / i);
    }
  } finally {
    console.log('cleanup runs');
  }
}
process([5, 2, 0, 1]);
