-- PATCH /items/{id}: a session changes the description of an item its user owns.
package.path = (os.getenv("BENCH_LUA") or ".") .. "/?.lua;" .. package.path
local c = require("common")
setup, done, response = c.setup, c.done, c.watch()
local owned, n
function init()
  c.seed()
  owned, n = {}, 0
  for _, line in ipairs(c.lines("owned.txt")) do
    local token, id = line:match("(%S+) (%d+)")
    owned[#owned + 1] = { token, id }
  end
end
function request()
  n = n + 1
  local pick = owned[math.random(#owned)]
  local body = string.format('{"description": "patched %d"}', n)
  return wrk.format("PATCH", "/items/" .. pick[2], c.json_headers(pick[1]), body)
end
