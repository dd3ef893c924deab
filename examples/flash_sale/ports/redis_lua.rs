//! The seeds' cache design: each SKU's counters live in a Redis hash and a
//! Lua script checks and takes stock atomically (the "Redis DECR" flash
//! sale). The database is not touched on the purchase path; like the seeds,
//! nothing writes the levels back, so Redis is the only record of them.

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use std::collections::HashMap;

use super::{Row, unavailable};
use stampede::actors::SkuSnapshot;
use stampede::actors::stock::Hold;
use stampede::actors::{InventoryError, StockPort};
use stampede::domain::ids::{ReservationId, SkuId, UserId};
use stampede::domain::ledger::{LedgerError, Rejection, ReservationStatus};
use stampede::domain::quantity::Quantity;
use stampede::domain::rules::SaleRules;
use stampede::domain::time::Timestamp;
use stampede::persistence::Store;

/// Answers `{0, 1}` taken, `{0, 0}` held by an earlier call with the id,
/// `{1, available}` out of stock, `{2}` not on sale, `{3, limit, held}` over
/// the limit, `{4}` id reused, `{5}` SKU not seeded, `{6}` a retry of a
/// reservation since given back (judged afresh when ARGV[5] is `1`).
const RESERVE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return {5} end
local prior = redis.call('HGET', KEYS[2], ARGV[1])
local live = prior and (string.match(prior, '|reserved$') or string.match(prior, '|committed$'))
if prior and (live or ARGV[5] ~= '1') then
  if string.sub(prior, 1, #ARGV[2] + #ARGV[3] + 2) ~= ARGV[2] .. '|' .. ARGV[3] .. '|' then
    return {4}
  end
  if live then return {0, 0} end
  return {6}
end
local s = redis.call('HMGET', KEYS[1], 'on_hand', 'reserved', 'sold', 'opens_at', 'closes_at', 'limit')
local now, qty = tonumber(ARGV[4]), tonumber(ARGV[3])
local opens, closes = tonumber(s[4]), tonumber(s[5])
if (opens and now < opens) or (closes and now >= closes) then return {2} end
local available = tonumber(s[1]) - tonumber(s[2]) - tonumber(s[3])
if qty > available then return {1, available} end
local limit = tonumber(s[6])
if limit then
  local held = tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0')
  if held + qty > limit then return {3, limit, held} end
  redis.call('HINCRBY', KEYS[3], ARGV[2], qty)
end
redis.call('HINCRBY', KEYS[1], 'reserved', qty)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. ARGV[3] .. '|reserved')
return {0, 1}
";

/// Moves reservation ARGV[1] to ARGV[2] (`committed` or `released`).
/// Answers `{0}` done, `{1}` unknown reservation, `{2}` not committable.
const FINISH: &str = r"
local prior = redis.call('HGET', KEYS[2], ARGV[1])
if not prior then return {1} end
local user, qty, status = string.match(prior, '^(%d+)|(%d+)|(%a+)$')
qty = tonumber(qty)
local to = ARGV[2]
if status == to then return {0} end
if status == 'reserved' then
  redis.call('HINCRBY', KEYS[1], 'reserved', -qty)
  if to == 'committed' then redis.call('HINCRBY', KEYS[1], 'sold', qty) end
elseif status == 'committed' and to == 'released' then
  redis.call('HINCRBY', KEYS[1], 'sold', -qty)
  to = 'returned'
elseif to == 'released' then
  return {0}
else
  return {2}
end
if to ~= 'committed' and redis.call('HEXISTS', KEYS[3], user) == 1 then
  redis.call('HINCRBY', KEYS[3], user, -qty)
end
redis.call('HSET', KEYS[2], ARGV[1], user .. '|' .. qty .. '|' .. to)
return {0}
";

pub struct RedisLuaStock {
    redis: ConnectionManager,
    /// Where a SKU's counters come from the first time Redis is asked.
    store: Store,
    /// Keys of this run, so runs never share counters.
    prefix: String,
    reserve: Script,
    finish: Script,
}

impl RedisLuaStock {
    pub async fn connect(redis_url: &str, database_url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(redis_url)?;
        Ok(Self {
            redis: ConnectionManager::new(client).await?,
            store: Store::connect(database_url, 2).await?,
            prefix: format!("flash-sale:{}", uuid::Uuid::new_v4()),
            reserve: Script::new(RESERVE),
            finish: Script::new(FINISH),
        })
    }

    fn keys(&self, sku: SkuId) -> [String; 3] {
        let base = format!("{}:{}", self.prefix, sku.get());
        [base.clone(), format!("{base}:r"), format!("{base}:u")]
    }

    /// Copies the SKU's levels and rules from the database into Redis,
    /// unless another request did it first.
    async fn seed(&self, sku: SkuId) -> Result<(), InventoryError> {
        let stored = self
            .store
            .load_sku(sku, Timestamp::now(), 0)
            .await?
            .ok_or(InventoryError::UnknownSku(sku))?;
        let (levels, rules) = (stored.header.levels, stored.header.rules);
        let mut fields = vec![
            ("on_hand", levels.on_hand),
            ("reserved", levels.reserved),
            ("sold", levels.sold),
        ];
        fields.extend(rules.opens_at.map(|t| ("opens_at", t.millis())));
        fields.extend(rules.closes_at.map(|t| ("closes_at", t.millis())));
        fields.extend(rules.per_user_limit.map(|l| ("limit", i64::from(l))));
        let [stock, ..] = self.keys(sku);
        let mut args = Vec::new();
        for (k, v) in fields {
            args.push(k.to_string());
            args.push(v.to_string());
        }
        Script::new("if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end return 0")
            .key(stock)
            .arg(args)
            .invoke_async::<i64>(&mut self.redis.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn finish(
        &self,
        sku: SkuId,
        id: ReservationId,
        to: ReservationStatus,
    ) -> Result<(), InventoryError> {
        let answer: Vec<i64> = self
            .finish
            .key(&self.keys(sku)[..])
            .arg(id.as_str())
            .arg(to.as_str())
            .invoke_async(&mut self.redis.clone())
            .await
            .map_err(unavailable)?;
        match answer.first() {
            Some(0) => Ok(()),
            Some(1) => Err(LedgerError::UnknownReservation(id).into()),
            _ => Err(LedgerError::NotCommittable {
                id,
                status: ReservationStatus::Released,
            }
            .into()),
        }
    }
}

#[async_trait]
impl StockPort for RedisLuaStock {
    async fn reserve(
        &self,
        sku: SkuId,
        id: ReservationId,
        user: UserId,
        quantity: Quantity,
        again: bool,
    ) -> Result<Hold, InventoryError> {
        let keys = self.keys(sku);
        for _ in 0..2 {
            let answer: Vec<i64> = self
                .reserve
                .key(&keys[..])
                .arg(id.as_str())
                .arg(user.get())
                .arg(quantity.as_i64())
                .arg(Timestamp::now().millis())
                .arg(if again { "1" } else { "0" })
                .invoke_async(&mut self.redis.clone())
                .await
                .map_err(unavailable)?;
            return match answer.as_slice() {
                // Like the seeds, nothing here ever expires a hold.
                [0, fresh] => Ok(Hold {
                    fresh: *fresh == 1,
                    expires_at: Timestamp::from_millis(i64::MAX),
                }),
                [1, available] => Err(Rejection::OutOfStock {
                    available: *available,
                }
                .into()),
                [2] => {
                    let rules = self.rules(sku).await?;
                    Err(Rejection::NotOnSale {
                        opens_at: rules.opens_at,
                        closes_at: rules.closes_at,
                    }
                    .into())
                }
                [3, limit, held] => Err(Rejection::LimitExceeded {
                    limit: u32::try_from(*limit).unwrap_or(u32::MAX),
                    held: u32::try_from(*held).unwrap_or(u32::MAX),
                }
                .into()),
                [4] => Err(Rejection::IdReused.into()),
                [6] => Err(LedgerError::NotCommittable {
                    id,
                    status: ReservationStatus::Released,
                }
                .into()),
                [5] => {
                    self.seed(sku).await?;
                    continue;
                }
                other => Err(unavailable(format!("unexpected script answer {other:?}"))),
            };
        }
        Err(InventoryError::Unavailable)
    }

    async fn commit(&self, sku: SkuId, id: ReservationId) -> Result<(), InventoryError> {
        self.finish(sku, id, ReservationStatus::Committed).await
    }

    async fn release(&self, sku: SkuId, id: ReservationId) -> Result<(), InventoryError> {
        self.finish(sku, id, ReservationStatus::Released).await
    }

    async fn snapshot(&self, sku: SkuId) -> Result<SkuSnapshot, InventoryError> {
        let [stock, reservations, _] = self.keys(sku);
        let mut redis = self.redis.clone();
        let mut fields: HashMap<String, i64> = redis.hgetall(&stock).await.map_err(unavailable)?;
        if fields.is_empty() {
            self.seed(sku).await?;
            fields = redis.hgetall(&stock).await.map_err(unavailable)?;
        }
        let held: Vec<String> = redis.hvals(&reservations).await.map_err(unavailable)?;
        let live = held.iter().filter(|v| v.ends_with("|reserved")).count();
        Ok(row(&fields).snapshot(sku, live))
    }
}

impl RedisLuaStock {
    async fn rules(&self, sku: SkuId) -> Result<SaleRules, InventoryError> {
        let [stock, ..] = self.keys(sku);
        let fields: HashMap<String, i64> = self
            .redis
            .clone()
            .hgetall(&stock)
            .await
            .map_err(unavailable)?;
        Ok(row(&fields).rules)
    }
}

fn row(fields: &HashMap<String, i64>) -> Row {
    let get = |k: &str| fields.get(k).copied();
    Row {
        on_hand: get("on_hand").unwrap_or(0),
        reserved: get("reserved").unwrap_or(0),
        sold: get("sold").unwrap_or(0),
        rules: SaleRules {
            opens_at: get("opens_at").map(Timestamp::from_millis),
            closes_at: get("closes_at").map(Timestamp::from_millis),
            per_user_limit: get("limit").and_then(|l| u32::try_from(l).ok()),
        },
    }
}
