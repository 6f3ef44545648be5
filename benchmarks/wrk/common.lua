-- Shared by the route scripts: data files written by run.py, headers, a JSON summary.
local M = {}
local dir = os.getenv("BENCH_DATA") or "."

function M.lines(name)
  local out = {}
  for line in io.lines(dir .. "/" .. name) do
    out[#out + 1] = line
  end
  return out
end

M.items = tonumber(os.getenv("BENCH_ITEMS") or "100000")

function M.headers(token)
  local h = { ["X-Version"] = os.getenv("BENCH_X_VERSION") or "1.0" }
  if token then
    h["Authorization"] = "Bearer " .. token
  end
  return h
end

function M.json_headers(token)
  local h = M.headers(token)
  h["Content-Type"] = "application/json"
  return h
end

-- Each wrk thread has its own Lua state: seed its random numbers apart from the others.
local counter = 0
function M.setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end

function M.seed()
  math.randomseed(os.time() * 100 + (thread_id or 0))
end

-- One line the runner parses; latencies in microseconds as wrk keeps them.
function M.done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d,'
      .. ' "mean_us": %.1f, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end

return M
