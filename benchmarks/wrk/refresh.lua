-- POST /auth/refresh: a pool of refresh tokens per thread; each answer's new token goes back
-- into the pool (a refresh token is good once: reusing one would end its session).
package.path = (os.getenv("BENCH_LUA") or ".") .. "/?.lua;" .. package.path
local c = require("common")
setup, done = c.setup, c.done
local pool
function init()
  local threads = tonumber(os.getenv("BENCH_THREADS") or "2")
  pool = {}
  -- Each wrk run gets its own file: a token presented twice would end its session.
  for i, token in ipairs(c.lines(os.getenv("BENCH_REFRESH_FILE") or "refresh.txt")) do
    if i % threads == (thread_id or 1) - 1 then
      pool[#pool + 1] = token
    end
  end
end
function request()
  local token = table.remove(pool, 1)
  local body = string.format('{"refresh_token": "%s"}', token or "exhausted")
  return wrk.format("POST", "/auth/refresh", c.json_headers(nil), body)
end
response = c.watch(function(status, headers, body)
  local token = body:match('"refresh_token":%s*"([^"]+)"')
  if token then
    pool[#pool + 1] = token
  end
end)
