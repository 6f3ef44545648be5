-- POST /auth/token as a random user of the login set (their sessions serve nothing else).
package.path = (os.getenv("BENCH_LUA") or ".") .. "/?.lua;" .. package.path
local c = require("common")
setup, done, response = c.setup, c.done, c.watch()
local users, password
function init()
  c.seed()
  users = c.lines("login_users.txt")
  password = os.getenv("BENCH_PASSWORD")
end
function request()
  local body = string.format(
    '{"username": "%s", "password": "%s"}', users[math.random(#users)], password)
  return wrk.format("POST", "/auth/token", c.json_headers(nil), body)
end
