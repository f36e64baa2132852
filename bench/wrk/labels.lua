-- POST /v1/labels by sample id, random samples of the pool.
dofile(os.getenv("WRK_DIR") .. "/common.lua")
local pool = tonumber(os.getenv("POOL"))
local classes = {"Bag", "Coat", "Dress", "Sneaker"}
request = function()
  local body = string.format('{"sample_id":%d,"label":"%s"}',
    math.random(1, pool), classes[math.random(1, #classes)])
  return wrk.format("POST", "/v1/labels", nil, body)
end
