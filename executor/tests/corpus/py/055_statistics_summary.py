import statistics

data = [2, 4, 4, 4, 5, 5, 7, 9]
print(statistics.mean(data), statistics.median(data), statistics.mode(data))
print(statistics.pstdev(data), round(statistics.stdev(data), 6))
print(statistics.pvariance(data), round(statistics.variance(data), 6))
print(statistics.median_low([1, 3, 5, 7]), statistics.median_high([1, 3, 5, 7]))
print(statistics.multimode("aabbbcccd"))
print(statistics.fmean([1.5, 2.5, 3.5]), statistics.harmonic_mean([40, 60]))
print(statistics.quantiles([1, 2, 3, 4, 5, 6, 7, 8], n=4))
print(round(statistics.geometric_mean([1, 10, 100]), 6))
