import statistics

xs = [1, 2, 3, 4, 5, 6]
ys = [2.1, 3.9, 6.2, 7.8, 10.1, 12.2]
slope, intercept = statistics.linear_regression(xs, ys)
print(round(slope, 6), round(intercept, 6))
print(round(statistics.correlation(xs, ys), 6))
print(round(statistics.covariance(xs, ys), 6))
nd = statistics.NormalDist(mu=100, sigma=15)
print(round(nd.cdf(130), 6), round(nd.inv_cdf(0.5), 6))
