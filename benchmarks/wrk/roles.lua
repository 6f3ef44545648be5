-- GET /roles (public), with X-Version.
package.path = (os.getenv("BENCH_LUA") or ".") .. "/?.lua;" .. package.path
local c = require("common")
setup, done, response = c.setup, c.done, c.watch()
local req
function init()
  req = wrk.format("GET", "/roles", c.headers(nil))
end
function request()
  return req
end
