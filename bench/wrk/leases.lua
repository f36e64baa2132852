-- POST /v1/leases, one sample a request.
dofile(os.getenv("WRK_DIR") .. "/common.lua")
wrk.method = "POST"
wrk.path = "/v1/leases"
wrk.body = '{"annotator":"bench","n":1}'
