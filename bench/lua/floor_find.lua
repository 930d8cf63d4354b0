-- The one-find floor: GET /floor/find/<key> for one key inserted beforehand.
-- Arguments (after `--`): <key>
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require("summary")

function init(args)
  wrk.method = "GET"
  wrk.path = "/floor/find/" .. (args[1] or "missing")
end
