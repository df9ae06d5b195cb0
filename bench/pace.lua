-- bench/pace.lua: wrk at a set rate.  wrk has no rate option (and wrk2 is
-- not packaged), so each connection waits BENCH_PACE_MS (default 1) between
-- requests; the rate then grows with the number of connections.
local ms = tonumber(os.getenv("BENCH_PACE_MS") or "1")

function delay()
	return ms
end
