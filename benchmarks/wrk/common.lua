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
local counter, threads = 0, {}
function M.setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
  threads[counter] = thread
end

function M.seed()
  math.randomseed(os.time() * 100 + (thread_id or 0))
end

-- response(): keeps the first answer that is not 2xx (status, start of the body) for the
-- runner's error. With BENCH_CHECK set (the runner's one-request check) it keeps the first
-- answer whatever its status and stops the thread. `handler`: the script's own response().
local checking = os.getenv("BENCH_CHECK")
function M.watch(handler)
  return function(status, headers, body)
    if handler then
      handler(status, headers, body)
    end
    if not sample_status and (checking or status < 200 or status > 299) then
      sample_status, sample_body = status, body:sub(1, 500)
    end
    if checking then
      wrk.thread:stop()
    end
  end
end

local function json_string(text)
  return '"' .. text:gsub('[%c"\\]', function(ch)
    return (ch == '"' or ch == "\\") and "\\" .. ch or string.format("\\u%04x", ch:byte())
  end) .. '"'
end

-- One line the runner parses; latencies in microseconds as wrk keeps them. Then one line per
-- thread that kept an answer (see M.watch).
function M.done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d,'
      .. ' "mean_us": %.1f, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
  for _, thread in ipairs(threads) do
    local status = thread:get("sample_status")
    if status then
      io.write(string.format('BENCH_SAMPLE {"status": %d, "body": %s}\n', status,
        json_string(thread:get("sample_body"))))
    end
  end
end

return M
