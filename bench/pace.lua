-- bench/pace.lua: wrk at a set rate.  wrk has no rate option (and wrk2 is
-- not packaged); wrk asks delay() before each request of every connection.
--
-- BENCH_RATE=N: N requests/s from this wrk thread, whatever the latency.
-- Each call takes the next slot of one schedule shared by the thread's
-- connections (a request every 1/N s) and waits until it; a schedule more
-- than 100 ms behind (the server cannot keep up) restarts from now rather
-- than sending the backlog at once.  wrk's timers count whole
-- milliseconds, so requests leave in per-millisecond batches, the same in
-- every run.  The connections must be enough to fill the schedule: more
-- than N x (latency + 1 ms).
--
-- Without BENCH_RATE: each connection waits BENCH_PACE_MS (default 1)
-- after its response, so the rate grows with the connections and falls
-- as latency grows (rate ~= connections / (pause + latency)).
local rate = tonumber(os.getenv("BENCH_RATE") or "")
local ms = tonumber(os.getenv("BENCH_PACE_MS") or "1")

if not rate or rate <= 0 then
	function delay()
		return ms
	end
	return
end

-- CLOCK_MONOTONIC through LuaJIT's FFI (wrk is built on LuaJIT): os.time
-- counts whole seconds
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } pace_timespec;
int clock_gettime(int clk, pace_timespec *ts);
]]
local ts = ffi.new("pace_timespec")
local gap = 1e6 / rate	-- us between two requests
local slot			-- when the next request is due, us

local function now_us()
	ffi.C.clock_gettime(1, ts)
	return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

function delay()
	local t = now_us()
	local wait

	if not slot or slot < t - 100000 then
		slot = t
	end
	wait = slot - t
	slot = slot + gap
	return math.floor(wait / 1000 + 0.5)
end
