-- wrk script: POST /api/search/image (multipart) with the file named by $XRS_LOAD_IMAGE.
local path = os.getenv("XRS_LOAD_IMAGE")
local f = assert(io.open(path, "rb"))
local bytes = f:read("*a")
f:close()
local boundary = "xrsloadtestboundary7d3a"
local body = table.concat({
  "--" .. boundary,
  'Content-Disposition: form-data; name="file"; filename="query.png"',
  "Content-Type: application/octet-stream", "", bytes,
  "--" .. boundary,
  'Content-Disposition: form-data; name="k"', "", "10",
  "--" .. boundary,
  'Content-Disposition: form-data; name="min_score"', "", "-1",
  "--" .. boundary .. "--", "",
}, "\r\n")
request = function()
  return wrk.format("POST", "/api/search/image",
    {["Content-Type"] = "multipart/form-data; boundary=" .. boundary}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT image requests=%d non2xx=%d socket_errors=%d rps=%.1f p50_ms=%.1f p99_ms=%.1f\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
