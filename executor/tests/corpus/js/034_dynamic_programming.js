function lcs(a, b) {
  const dp = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      dp[i][j] = a[i - 1] === b[j - 1] ? dp[i - 1][j - 1] + 1 : Math.max(dp[i - 1][j], dp[i][j - 1]);
  return dp[a.length][b.length];
}
function editDistance(a, b) {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur.push(Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] !== b[j - 1] ? 1 : 0)));
    prev = cur;
  }
  return prev[b.length];
}
function coinWays(coins, amount) {
  const ways = [1, ...new Array(amount).fill(0)];
  for (const c of coins) for (let x = c; x <= amount; x++) ways[x] += ways[x - c];
  return ways[amount];
}
function lis(xs) {
  const tails = [];
  for (const x of xs) {
    let lo = 0, hi = tails.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (tails[mid] < x) lo = mid + 1; else hi = mid; }
    tails[lo] = x;
  }
  return tails.length;
}
console.log(lcs('ABCBDAB', 'BDCABA'), editDistance('kitten', 'sitting'), coinWays([1, 2, 5], 100), lis([10, 9, 2, 5, 3, 7, 101, 18]));
