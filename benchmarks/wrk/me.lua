-- GET /auth/me with a random live session's access token.
package.path = (os.getenv("BENCH_LUA") or ".") .. "/?.lua;" .. package.path
local c = require("common")
setup, done = c.setup, c.done
local tokens
function init()
  c.seed()
  tokens = c.lines("tokens.txt")
end
function request()
  return wrk.format("GET", "/auth/me", c.headers(tokens[math.random(#tokens)]))
end
