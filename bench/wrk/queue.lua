-- GET /v1/queue?limit=10: the read-only view of the ranking.
dofile(os.getenv("WRK_DIR") .. "/common.lua")
wrk.path = "/v1/queue?limit=10"
