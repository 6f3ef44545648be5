-- POST /items with a name unique to this thread and request.
package.path = (os.getenv("BENCH_LUA") or ".") .. "/?.lua;" .. package.path
local c = require("common")
setup, done, response = c.setup, c.done, c.watch()
local tokens, run, n
function init()
  c.seed()
  tokens = c.lines("tokens.txt")
  run, n = (os.getenv("BENCH_TARGET") or "") .. os.time(), 0
end
function request()
  n = n + 1
  local body = string.format(
    '{"name": "bench-%s-%d-%d", "description": "made by wrk"}', run, thread_id or 0, n)
  return wrk.format("POST", "/items", c.json_headers(tokens[math.random(#tokens)]), body)
end
