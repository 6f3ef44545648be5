-- GET /ceiling on the baseline: a constant body, the server stack alone.
package.path = (os.getenv("BENCH_LUA") or ".") .. "/?.lua;" .. package.path
local c = require("common")
setup, done = c.setup, c.done
wrk.path = "/ceiling"
-- No response() while measuring: wrk keeping every body costs about a tenth of this rate.
if os.getenv("BENCH_CHECK") then
  response = c.watch()
end
