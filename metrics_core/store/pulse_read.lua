#!lua name=pulse_read_v1

--[[
The exporter's Redis Functions, a library apart from the worker's `pulse_v1` (pulse.lua), so
an exporter that loads them never replaces the functions workers write with. Read only;
KEYS[1] is a shard's key prefix such as "{pulse:clickstream:3}" (one cluster hash slot),
and the keys are those pulse.lua describes.
]]

-- pulse_buckets: a shard's counter buckets for one scrape.
-- ARGV: triples (width, first start, count): the buckets P:c:<width>:<first + k * width>,
-- k = 0 .. count - 1 (width 0, first 0, count 1: the totals).
-- Returns, per triple, {k, {field, value, ...}, ...} for the buckets that hold anything.
local function pulse_buckets(keys, args)
  local p = keys[1]
  local out = {}
  for i = 1, #args, 3 do
    local width, first = tonumber(args[i]), tonumber(args[i + 1])
    local prefix, found = p .. ':c:' .. args[i] .. ':', {}
    for k = 0, tonumber(args[i + 2]) - 1 do
      -- bucket starts are whole ms below 2^53: exact as doubles, printed without exponent
      local fields = redis.call('HGETALL', prefix .. string.format('%.0f', first + k * width))
      if #fields > 0 then
        found[#found + 1] = k
        found[#found + 1] = fields
      end
    end
    out[#out + 1] = found
  end
  return out
end

redis.register_function{function_name = 'pulse_buckets', callback = pulse_buckets,
                        flags = {'no-writes'}}
