-- The annotator's loop: lease a sample, label it through its lease. wrk
-- cannot chain per connection, so each thread keeps the leases it got and
-- labels them on its next requests: half leases, half labels, every label
-- on a real lease.
dofile(os.getenv("WRK_DIR") .. "/common.lua")
local pending = {}
local classes = {"Bag", "Coat", "Dress", "Sneaker"}
request = function()
  local id = table.remove(pending)
  if id then
    return wrk.format("POST", "/v1/labels", nil, string.format(
      '{"lease_id":%s,"label":"%s"}', id, classes[math.random(1, #classes)]))
  end
  return wrk.format("POST", "/v1/leases", nil, '{"annotator":"bench","n":1}')
end
response = function(status, headers, body)
  local id = body:match('"lease_id":(%d+)')
  if id and body:match('"expires_at"') then
    table.insert(pending, id)
  end
end
