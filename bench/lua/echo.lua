-- The no-database floor: POST /floor/echo with a create-order-sized JSON body.
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require("summary")

function init(args)
  wrk.method = "POST"
  wrk.path = "/floor/echo"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"orderNumber":"ORD-67890","amount":149.99,"currency":"USD"}'
end
