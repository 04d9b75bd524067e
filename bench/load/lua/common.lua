-- Shared by every bench script (loaded with dofile): request lists, status counts, and a
-- done() that prints one JSON object between markers for bench/load/loadgen.py to parse.
--
-- A request list is a text file, one request a line: METHOD <TAB> PATH <TAB> TOKEN <TAB> BODY
-- (TOKEN and BODY may be empty). Every request is formatted once, in init(), so request()
-- only picks the next pre-built string: the load generator spends its CPU on sockets.

local common = {}

local threads = {}

function common.load_requests(path)
  local file = assert(io.open(path, "r"), "cannot open request list " .. tostring(path))
  local built = {}
  for line in file:lines() do
    if line ~= "" then
      local method, target, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t?(.*)$")
      assert(method, "malformed request line: " .. line)
      local headers = {}
      if token ~= "" then
        headers["Authorization"] = "Token " .. token
      end
      if body ~= "" then
        headers["Content-Type"] = "application/json"
      else
        body = nil
      end
      built[#built + 1] = wrk.format(method, target, headers, body)
    end
  end
  file:close()
  assert(#built > 0, "empty request list " .. path)
  return built
end

-- Each thread starts at its own place in the lists, so connections do not walk in step.
function common.setup(thread)
  thread:set("thread_index", #threads)
  threads[#threads + 1] = thread
end

statuses = {}

function common.response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local function json_statuses()
  local merged = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses") or {}
    for status, count in pairs(counts) do
      merged[status] = (merged[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(merged) do
    parts[#parts + 1] = string.format('"%d":%d', status, count)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function common.done(summary, latency, requests)
  local percentiles = {}
  for _, p in ipairs({50, 75, 90, 95, 99, 99.9}) do
    percentiles[#percentiles + 1] = string.format('"%s":%d', tostring(p), latency:percentile(p))
  end
  io.write("BENCH-JSON-BEGIN\n")
  io.write(string.format(
    '{"duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"max":%d,"mean":%.1f,"stdev":%.1f,"percentiles":{%s}},' ..
    '"statuses":%s}\n',
    summary.duration, summary.requests, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    latency.min, latency.max, latency.mean, latency.stdev, table.concat(percentiles, ","),
    json_statuses()))
  io.write("BENCH-JSON-END\n")
end

return common
