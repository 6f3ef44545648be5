-- GET /auth/me with a random live session's access token.
package.path = (os.getenv("BENCH_LUA") or ".") .. "/?.lua;" .. package.path
local c = require("common")
setup, done, response = c.setup, c.done, c.watch()
local tokens
function init()
  c.seed()
  tokens = c.lines("tokens.txt")
end
function request()
  return wrk.format("GET", "/auth/me", c.headers(tokens[math.random(#tokens)]))
end
