-- wrk script: POST /api/search/text with a rotating set of queries.
local queries = {
  "PA chest radiograph with pleural effusion", "hand x-ray", "dental panoramic radiograph",
  "lateral chest x-ray", "fracture of the fifth metacarpal", "bitewing x-ray of the molars",
  "cardiomegaly", "bone age assessment of a child's hand",
}
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"query":"%s","k":10,"min_score":-1}', queries[(n % #queries) + 1])
  return wrk.format("POST", "/api/search/text", {["Content-Type"] = "application/json"}, body)
end
-- Non-2xx answers count as errors in the summary line the script prints.
local errors = 0
response = function(status)
  if status ~= 200 then errors = errors + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT text requests=%d non2xx=%d socket_errors=%d rps=%.1f p50_ms=%.1f p99_ms=%.1f\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
