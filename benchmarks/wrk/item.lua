-- GET /items/{id}: a random seeded item, a random session.
package.path = (os.getenv("BENCH_LUA") or ".") .. "/?.lua;" .. package.path
local c = require("common")
setup, done, response = c.setup, c.done, c.watch()
local tokens
function init()
  c.seed()
  tokens = c.lines("tokens.txt")
end
function request()
  local path = "/items/" .. math.random(c.items)
  return wrk.format("GET", path, c.headers(tokens[math.random(#tokens)]))
end
