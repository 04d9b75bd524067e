-- Mixed traffic: reads from BENCH_READS, writes from BENCH_WRITES (request lists, see
-- common.lua), a write with probability BENCH_WRITE_SHARE (0.1: 90 % reads / 10 % writes).
-- The lines carry many customers' tokens, so the writes are spread over many accounts.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local reads, writes, read_at, write_at, write_share

setup = common.setup
response = common.response
done = common.done

function init(args)
  reads = common.load_requests(os.getenv("BENCH_READS"))
  writes = common.load_requests(os.getenv("BENCH_WRITES"))
  write_share = tonumber(os.getenv("BENCH_WRITE_SHARE") or "0.1")
  local offset = (thread_index or 0) * 7919
  read_at, write_at = offset % #reads, offset % #writes
  math.randomseed(1000 + (thread_index or 0))
end

function request()
  if math.random() < write_share then
    write_at = write_at % #writes + 1
    return writes[write_at]
  end
  read_at = read_at % #reads + 1
  return reads[read_at]
end
