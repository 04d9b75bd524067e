-- Replays a request list (BENCH_REQUESTS, see common.lua) round robin: anonymous reads, or
-- authenticated ones when the lines carry customers' tokens, or writes (booking creation).
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local list, position

setup = common.setup
response = common.response
done = common.done

function init(args)
  list = common.load_requests(os.getenv("BENCH_REQUESTS"))
  position = (thread_index or 0) * 7919 % #list
end

function request()
  position = position % #list + 1
  return list[position]
end
