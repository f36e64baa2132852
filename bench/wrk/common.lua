-- Shared by the wrk scripts: the token comes from the environment and
-- done() prints one JSON line with the figures bench/run_http.sh collects.
token = os.getenv("ARALD_TOKEN")
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  io.write(string.format(
    '{"requests_per_s":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f,' ..
    '"requests":%d,"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end
