-- GET /items?name=<5 random digits>&limit=20: a substring filter that matches a few items.
package.path = (os.getenv("BENCH_LUA") or ".") .. "/?.lua;" .. package.path
local c = require("common")
setup, done, response = c.setup, c.done, c.watch()
local tokens
function init()
  c.seed()
  tokens = c.lines("tokens.txt")
end
function request()
  local path = string.format("/items?limit=20&name=%05d", math.random(0, 99999))
  return wrk.format("GET", path, c.headers(tokens[math.random(#tokens)]))
end
