-- GET /items?limit=20 (the first page, with the real total).
package.path = (os.getenv("BENCH_LUA") or ".") .. "/?.lua;" .. package.path
local c = require("common")
setup, done, response = c.setup, c.done, c.watch()
local tokens
local path = "/items?limit=20&page=" .. (os.getenv("BENCH_PAGE") or "1")
function init()
  c.seed()
  tokens = c.lines("tokens.txt")
end
function request()
  return wrk.format("GET", path, c.headers(tokens[math.random(#tokens)]))
end
