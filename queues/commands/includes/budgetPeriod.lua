--[[
  The period a key's spend is counted over, on Redis's clock: 'hour', 'day' or
  'month' (UTC calendar), or a length in ms from the epoch. The same arithmetic
  as periodBounds in src/budgets/budget.ts (tests/integration/budgetScripts
  checks they agree). Month periods use H. Hinnant's civil-date algorithms,
  since scripts have no os.date.
]]
local function budgetDaysFromCivil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m + 9
  if m > 2 then mp = m - 3 end
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function budgetCivilFromDays(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp + 3
  if mp >= 10 then m = mp - 9 end
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m
end

-- Returns start (inclusive) and end (exclusive) in ms of the period holding `now`.
local function budgetPeriodBounds(period, now)
  local len = tonumber(period)
  if period == 'hour' then len = 3600000 end
  if period == 'day' or (not len and period ~= 'month') then len = 86400000 end
  if period ~= 'month' then
    local start = math.floor(now / len) * len
    return start, start + len
  end
  local y, m = budgetCivilFromDays(math.floor(now / 86400000))
  local ny, nm = y, m + 1
  if nm == 13 then ny, nm = y + 1, 1 end
  return budgetDaysFromCivil(y, m, 1) * 86400000, budgetDaysFromCivil(ny, nm, 1) * 86400000
end

-- ms as an integer string (tostring would print large numbers in exponent form).
local function budgetMs(n)
  return string.format('%.0f', n)
end
